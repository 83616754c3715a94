"""Command line: ``landinglib data`` (also ``python -m landinglib data``)."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from . import classes, synthetic
from .runtime import fast_mode


def _data(args: argparse.Namespace) -> int:
    """Generate (or find) the built-in data and print what is there."""
    from .data import DroneDeployDataset, UDD6Dataset, class_pixel_counts

    start = time.perf_counter()
    roots = {style: synthetic.ensure_builtin(style, fast=args.fast) for style in ("dronedeploy", "udd6")}
    print(f"built-in data ready in {time.perf_counter() - start:.1f} s")
    print(f"\n{'dataset':<12} {'split':<6} {'items':>6}  source")
    for split in ("train", "val", "test"):
        dd = DroneDeployDataset(roots["dronedeploy"], split, chip_size=args.chip_size)
        print(f"{'dronedeploy':<12} {split:<6} {len(dd):>6}  chips of {args.chip_size} px from {len(dd.scenes)} scenes")
    for split in ("train", "val", "test"):
        udd = UDD6Dataset(roots["udd6"], split)
        print(f"{'udd6':<12} {split:<6} {len(udd):>6}  frames")
    counts = class_pixel_counts(UDD6Dataset(roots["udd6"], "train"))
    share = counts / counts.sum()
    print("\nUDD6-style train pixels per landing class: "
          + ", ".join(f"{n} {s:.1%}" for n, s in zip(classes.LANDING.names, share)))
    for style, root in roots.items():
        info = json.loads((Path(root) / "GENERATED.json").read_text())
        print(f"{style}: {root} ({info['count']}, generated in {info['seconds']} s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="landinglib", description="Drone landing-zone segmentation course")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("data", help="generate the built-in data (first use) and summarise it")
    p.add_argument("--fast", action="store_true", default=fast_mode(), help="the tiny test-sized data")
    p.add_argument("--chip-size", type=int, default=512, help="DroneDeploy chip size in pixels")
    p.set_defaults(func=_data)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
