"""Where the time goes: a training step under torch.profiler, and onnxruntime per layer.

    python benchmarks/profile_breakdown.py [--arch fast] [--size 256] [--batch-size 6] [--threads 2]

To see what a laptop sees on a CPU with AVX-512/AMX: ONEDNN_MAX_CPU_ISA=AVX2 python benchmarks/profile_breakdown.py
(PyTorch's oneDNN honours it; onnxruntime has no such switch, so its figures are on the CPU's own ISA).

Prints (1) a CPU training step (fp32, channels_last, AdamW) split into forward / backward /
optimizer and by operator, per layer for the convolutions; (2) one onnxruntime inference at batch 1,
fp32 and INT8, per graph node. ``landinglib.profiling`` does the measuring; notebook 02 shows the
same tables.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from landinglib import data, profiling
from landinglib.model import build_model
from machine import describe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", nargs="+", default=["fast"], help="architectures (default: the pipeline's)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=6)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(describe())
    calibration = data.make_loaders("udd6", size=args.size, batch_size=1, num_workers=0).val
    for arch in args.arch:
        model = build_model(arch, 4)
        step = profiling.profile_train_step(model, batch_size=args.batch_size, size=args.size, steps=args.steps)
        print(f"\n{arch}: one training step, batch {args.batch_size} at {args.size}x{args.size}, fp32 channels_last, "
              f"{args.threads} threads: {step['ms_per_step']:.0f} ms ({step['images_per_s']:.1f} images/s)")
        print(profiling.format_table(step["phases"], "phase"))
        print(profiling.format_table(step["kinds"], "kind"))
        print(profiling.format_table(step["operators"][:10], "operator"))
        print(profiling.format_table(step["layers"], "layer"))
        with tempfile.TemporaryDirectory() as tmp:
            for precision in ("fp32", "int8"):
                nodes = profiling.profile_onnx(model, Path(tmp), precision=precision, threads=args.threads,
                                                calibration_loader=calibration)
                print(f"\n{arch}: onnxruntime {precision}, batch 1, {args.threads} threads: "
                      f"{nodes['ms_per_run']:.2f} ms per frame (median)")
                print(profiling.format_table(nodes["nodes"][:12], "node"))


if __name__ == "__main__":
    main()
