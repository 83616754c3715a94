"""Data benchmarks: generation time of the built-in data, label decoding, loader throughput.

    python benchmarks/data_throughput.py [--workers N] [--batches N] [--skip-generation]

Goals: all built-in data generated in <= 60 s on 2 cores; a training loader that outpaces a training
step by a wide margin. Prints a table (``make bench`` records it in benchmarks/RESULTS.md).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from landinglib import classes, data, synthetic
from landinglib.runtime import default_workers
from machine import describe


def time_generation() -> dict[str, float]:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for style in ("dronedeploy", "udd6", "udd6-unseen"):
            start = time.perf_counter()
            synthetic.generate(Path(tmp) / style, style)
            out[style] = time.perf_counter() - start
    return out


def time_decode(repeats: int = 5) -> float:
    """Seconds to decode one 4096x2160 RGB label (the size of a real UDD6 frame)."""
    rng = np.random.default_rng(0)
    mask = rng.integers(0, 6, (2160 // 8, 4096 // 8)).repeat(8, 0).repeat(8, 1).astype(np.uint8)
    rgb = classes.index_to_colors(mask, classes.UDD6)
    classes.colors_to_index(rgb, classes.UDD6)  # build the lookup table once
    start = time.perf_counter()
    for _ in range(repeats):
        decoded, _ = classes.colors_to_index(rgb, classes.UDD6)
    assert (decoded == mask).all()
    return (time.perf_counter() - start) / repeats


def time_augment(augment: str, repeats: int = 50) -> float:
    """Seconds to augment one UDD6-style frame into a training crop, as the pipeline does (128 px at
    the 256-px scale)."""
    image, mask, _, _ = synthetic.render_scene("udd6", 0)
    transform = data.train_transform(256, augment=augment, crop=128)
    start = time.perf_counter()
    for _ in range(repeats):
        transform(image=image, mask=mask)
    return (time.perf_counter() - start) / repeats


def time_loader(dataset: str, workers: int, batches: int) -> float:
    loaders = data.make_loaders(dataset, size=256, crop=128, batch_size=6, num_workers=workers)
    it = iter(loaders.train)
    next(it)  # start the workers
    start, n = time.perf_counter(), 0
    for _ in range(batches):
        try:
            x, _ = next(it)
        except StopIteration:
            it = iter(loaders.train)
            x, _ = next(it)
        n += x.shape[0]
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--skip-generation", action="store_true")
    args = parser.parse_args()
    rows = []
    if not args.skip_generation:
        gen = time_generation()
        rows.append(("generate 55 DroneDeploy-style scenes", f"{gen['dronedeploy']:.1f} s"))
        rows.append(("generate 106+35 UDD6-style frames", f"{gen['udd6']:.1f} s"))
        rows.append(("generate 35 unseen-style test frames", f"{gen['udd6-unseen']:.1f} s"))
        rows.append(("generate all built-in data", f"{sum(gen.values()):.1f} s"))
    rows.append(("decode one 4096x2160 RGB label", f"{time_decode() * 1000:.0f} ms"))
    for augment in data.AUGMENTATIONS:
        rows.append((f"{augment} augmentation of one 1024x540 frame to a 128-px crop",
                     f"{time_augment(augment) * 1000:.1f} ms"))
    for workers in sorted({0, args.workers}):
        for dataset in ("dronedeploy", "udd6"):
            rate = time_loader(dataset, workers, args.batches)
            rows.append((f"train loader {dataset}, 128-px crops + aug, {workers} workers", f"{rate:.0f} images/s"))
    width = max(len(r[0]) for r in rows)
    print(describe())
    print(f"{'measurement':<{width}}  value")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
