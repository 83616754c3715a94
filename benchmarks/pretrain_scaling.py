"""What more synthetic data buys: the default pipeline's scores against the number of pretraining frames.

    python benchmarks/pretrain_scaling.py [--arch fast] [--frames 0 700 2700 12000] [--crops 40000]

Each point pretrains stage 0 on the first N frames of the pretraining world (``landinglib pretrain``,
a quarter of them orthomosaic tiles) for the same number of training crops (``--crops``: equal compute,
so only the amount of data differs), then runs the default pipeline (``landinglib train``) from it and
reads its test and unseen-style scores; 0 frames is the pipeline from random weights. The pipeline from the
shipped stage 0 (all frames, many more epochs) is measured too, as a point beside the curve. Runs are kept in
runs/scaling/ (a re-run reuses them); the curve is written to data/pretrained/scaling-<arch>.json
(notebook 02 plots it; benchmarks/RESULTS.md records it) and printed with the machine it was measured on.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import replace
from pathlib import Path

from landinglib.pipeline import PipelineConfig, run
from landinglib.pretrain import PretrainConfig, run_pretrain, shipped_path
from landinglib.profiling import describe_machine
from landinglib.runtime import pretrained_dir

EPOCH_CROPS = 2700
"""Crops per pretraining epoch (then it validates): a few frames are repeated, many are seen once."""
FINISH_EPOCHS = 1
"""Epochs of 256-px crops after the 128-px ones (the shipped stage 0 has 4): equal for every point."""


def point(arch: str, frames: int, crops: int, batch: int) -> dict:
    folder = Path("runs/scaling") / arch / f"frames-{frames}"
    results = folder / "pipeline" / "results.json"
    pretrain_seconds = None
    if not results.exists():
        init = "none"
        if frames:
            repeat = max(1, math.ceil(EPOCH_CROPS / frames))  # every epoch is EPOCH_CROPS crops, whatever the frames
            steps = EPOCH_CROPS // batch
            cfg = PretrainConfig(arch=arch, frames=frames, batch_size=batch, out=str(folder / "stage0"), repeat=repeat,
                                 steps_per_epoch=steps, epochs=max(1, math.ceil(crops / (steps * batch))),
                                 finish_epochs=FINISH_EPOCHS, progress=False)
            start = time.perf_counter()
            done = run_pretrain(cfg, resume=True)
            pretrain_seconds = round(time.perf_counter() - start)
            init = done["checkpoint"]
        run(replace(PipelineConfig(arch=arch, out=str(folder / "pipeline"), init=init), progress=False))
        if pretrain_seconds is not None:
            (folder / "pretrain_seconds.txt").write_text(str(pretrain_seconds))
    seconds = folder / "pretrain_seconds.txt"
    return {"frames": frames, **_scores(results),
            "pretrain_seconds": int(seconds.read_text()) if seconds.exists() else None}


def shipped_point(arch: str) -> dict:
    """The same pipeline from the stage 0 the course ships (longer pretraining than the curve's points)."""
    folder = Path("runs/scaling") / arch / "shipped"
    results = folder / "pipeline" / "results.json"
    if not results.exists():
        run(replace(PipelineConfig(arch=arch, out=str(folder / "pipeline")), progress=False))
    card = json.loads(shipped_path(arch).with_suffix(".json").read_text())
    frames = sum(card["frames"]["train"].values())
    return {"frames": frames, "epochs": card["epochs"], "pretrain_seconds": card["train_seconds"], **_scores(results)}


def _scores(results: Path) -> dict:
    saved = json.loads(results.read_text())
    stage1, stage2 = saved["stages"]
    rule = stage2["landing"]["test"]["rule"]
    return {"test_miou": stage2["test_miou"], "unseen_miou": stage2["unseen_miou"],
            "stage1_test_miou": stage1["test_miou"], "stage1_building_iou": stage1["test_iou"][0],
            "test_false_safe": rule["false_safe_rate"], "test_safe_recall": rule["safe_recall"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="fast")
    parser.add_argument("--frames", type=int, nargs="+", default=[0, 700, 2700, 12000])
    parser.add_argument("--crops", type=int, default=40_000, help="training crops of every pretraining run")
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    rows = [point(args.arch, n, args.crops, args.batch_size) for n in args.frames]
    shipped = shipped_point(args.arch) if shipped_path(args.arch).exists() else None
    machine = describe_machine()
    print(machine)
    print(f"{'frames':>7} {'stage-2 test mIoU':>17} {'unseen-style':>12} {'stage-1 test':>12} {'Building':>8} "
          f"{'false-safe':>10} {'Safe recall':>11}")
    for r in rows:
        print(f"{r['frames']:>7} {r['test_miou']:>17.3f} {r['unseen_miou']:>12.3f} {r['stage1_test_miou']:>12.3f} "
              f"{r['stage1_building_iou']:>8.2f} {100 * r['test_false_safe']:>9.1f}% {r['test_safe_recall']:>11.3f}")
    if shipped:
        r = shipped
        print(f"shipped stage 0 ({r['frames']} frames, epochs {r['epochs']}): stage-2 test {r['test_miou']:.3f}, "
              f"unseen-style {r['unseen_miou']:.3f}, stage-1 test {r['stage1_test_miou']:.3f}, Building "
              f"{r['stage1_building_iou']:.2f}, false-safe {100 * r['test_false_safe']:.1f}%, "
              f"Safe recall {r['test_safe_recall']:.3f}")
    out = pretrained_dir() / f"scaling-{args.arch}.json"
    out.write_text(json.dumps({"arch": args.arch, "crops_per_pretraining": args.crops, "machine": machine,
                               "command": "python benchmarks/pretrain_scaling.py " + " ".join(
                                   ["--arch", args.arch, "--frames", *map(str, args.frames), "--crops", str(args.crops)]),
                               "points": rows, "shipped": shipped}, indent=2) + "\n")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
