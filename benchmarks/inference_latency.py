"""Inference latency, size and accuracy: PyTorch eager vs onnxruntime fp32 vs onnxruntime INT8.

    python benchmarks/inference_latency.py [--checkpoint runs/default/stage2/best.pt] [--threads 2]

Exports the checkpoint, quantizes it statically (calibrated on UDD6 validation images) in the
settings we compare — per-tensor vs per-channel weights, uint8 vs int8 activations — and prints
median / p90 latency at 256x256 (batch 1 and 8, fixed threads), file sizes, and test mIoU of fp32
and INT8 on the held-out UDD6 test split. Targets: INT8 >= 1.5x faster than onnxruntime fp32 and
>= 3x faster than PyTorch eager, >= 3.5x smaller, test mIoU within 1 point of fp32.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from landinglib import classes, data, evaluation, export
from landinglib.model import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="runs/default/stage2/best.pt")
    parser.add_argument("--udd6", default=None, help="UDD6 folder (default: built-in data)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    if not Path(args.checkpoint).exists():
        raise SystemExit(f"{args.checkpoint} not found: run `make train` first (or pass --checkpoint)")
    model = load_model(args.checkpoint, classes.LANDING)
    loaders = data.make_loaders("udd6", args.udd6, size=256, batch_size=1, num_workers=0)
    with tempfile.TemporaryDirectory() as tmp:
        fp32_path = Path(tmp) / "landing.onnx"
        export.to_onnx(model, fp32_path)
        fp32 = export.onnx_session(fp32_path, args.threads)
        acc32 = evaluation.evaluate(fp32, loaders.test, len(classes.LANDING))
        print("\nquantization settings (batch 1, 256x256):")
        print(f"{'weights':<12} {'activations':<12} {'median ms':>10} {'size MB':>8} {'test mIoU':>10} {'agreement':>10}")
        chosen = None
        for per_channel, act in [(False, "uint8"), (True, "uint8"), (False, "int8")]:
            path = Path(tmp) / f"int8_{'pc' if per_channel else 'pt'}_{act}.onnx"
            q = export.quantize_int8(fp32_path, loaders.val, path, per_channel=per_channel, activation_type=act)
            session = export.onnx_session(path, args.threads)
            acc = evaluation.evaluate(session, loaders.test, len(classes.LANDING), reference=fp32)
            rows = export.benchmark_latency(model, fp32_path, path, batches=(1,), threads=args.threads, runs=args.runs)
            ms = next(r["median_ms"] for r in rows if r["engine"] == "onnxruntime INT8")
            print(f"{'per-channel' if per_channel else 'per-tensor':<12} {act:<12} {ms:>10.1f} {q['int8_bytes'] / 1e6:>8.2f} "
                  f"{acc['miou']:>10.3f} {acc['argmax_agreement']:>10.4f}")
            if (per_channel, act) == (False, "uint8"):  # the library's default
                chosen = (path, q, acc)
        path, q, acc8 = chosen
        rows = export.benchmark_latency(model, fp32_path, path, batches=(1, 8), threads=args.threads, runs=args.runs)
        sizes = {"onnxruntime fp32": q["fp32_bytes"], "onnxruntime INT8": q["int8_bytes"]}
        print(f"\nlatency at 256x256, {args.threads} threads, {args.runs} runs (INT8 = per-tensor weights, uint8 activations):")
        print(export.format_latency(rows, sizes))
        b1 = {r["engine"]: r["median_ms"] for r in rows if r["batch"] == 1}
        print(f"\nINT8 speed-up: {b1['onnxruntime fp32'] / b1['onnxruntime INT8']:.2f}x vs onnxruntime fp32, "
              f"{b1['PyTorch eager fp32'] / b1['onnxruntime INT8']:.2f}x vs PyTorch eager "
              f"({b1['PyTorch channels_last'] / b1['onnxruntime INT8']:.2f}x vs eager with channels_last); "
              f"{q['size_ratio']:.2f}x smaller")
        print(f"test mIoU ({len(loaders.test.dataset)} UDD6 test images): fp32 {acc32['miou']:.4f}, INT8 {acc8['miou']:.4f} "
              f"({100 * (acc8['miou'] - acc32['miou']):+.2f} points), argmax agreement {acc8['argmax_agreement']:.4f}")


if __name__ == "__main__":
    main()
