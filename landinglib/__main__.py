"""Command line: ``landinglib data`` and ``landinglib train`` (also ``python -m landinglib ...``)."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from . import classes, synthetic
from .runtime import fast_mode
from .train import DeviceUnavailable


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
    share = counts / max(counts.sum(), 1)
    print("\nUDD6-style train pixels per landing class: "
          + ", ".join(f"{n} {s:.1%}" for n, s in zip(classes.LANDING.names, share)))
    for style, root in roots.items():
        info = json.loads((Path(root) / "GENERATED.json").read_text())
        print(f"{style}: {root} ({info['count']}, generated in {info['seconds']} s)")
    return 0


def _train(args: argparse.Namespace) -> int:
    """Stages 0 -> 1 -> 2 with the given paths and settings; prints the results table."""
    from .pipeline import PipelineConfig, run

    for flag, path in (("--dronedeploy", args.dronedeploy), ("--udd6", args.udd6), ("--init", args.init)):
        if path is not None and not Path(path).exists():
            raise FileNotFoundError(f"{flag} {path}: no such file or folder")
    settings = dict(dronedeploy=args.dronedeploy, udd6=args.udd6, out=args.out, init=args.init, device=args.device,
                    workers=args.workers, seed=args.seed)
    for name in ("epochs1", "epochs2", "batch_size", "size"):
        if getattr(args, name) is not None:
            settings[name] = getattr(args, name)
    cfg = PipelineConfig.fast(**settings) if args.fast else PipelineConfig(**settings)
    start = time.perf_counter()
    run(cfg, resume=args.resume)
    print(f"total {time.perf_counter() - start:.0f} s; checkpoints and results.json in {cfg.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="landinglib", description="Drone landing-zone segmentation course")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("data", help="generate the built-in data (first use) and summarise it")
    p.add_argument("--fast", action="store_true", default=fast_mode(), help="the tiny test-sized data")
    p.add_argument("--chip-size", type=int, default=512, help="DroneDeploy chip size in pixels")
    p.set_defaults(func=_data)

    p = sub.add_parser("train", help="run stages 0 -> 1 -> 2 and print a results table")
    p.add_argument("--dronedeploy", metavar="PATH", help="DroneDeploy folder (default: built-in data)")
    p.add_argument("--udd6", metavar="PATH", help="UDD6 folder (default: built-in data)")
    p.add_argument("--out", default="runs/default", metavar="DIR", help="where checkpoints and results go")
    p.add_argument("--epochs1", type=int, help="stage 1 epochs (default 6)")
    p.add_argument("--epochs2", type=int, help="stage 2 epochs (default 8)")
    p.add_argument("--batch-size", type=int, help="batch size (default 6)")
    p.add_argument("--size", type=int, help="training crop size in pixels (default 256)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--init", metavar="PATH", help="stage 0 weights: a checkpoint or state_dict file")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoints in --out")
    p.add_argument("--workers", type=int, help="DataLoader workers (default: spare cores)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fast", action="store_true", default=fast_mode(), help="a few steps on tiny data")
    p.set_defaults(func=_train)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError, DeviceUnavailable, FloatingPointError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
