"""Training speed: images/s of one training step (batch 6, 128 and 256 px crops) and peak memory.

    python benchmarks/train_speed.py [--steps N] [--batch-size 6] [--size 128 256] [--arch ultra-fast fast]

To see what a laptop sees on a CPU with AVX-512/AMX: ONEDNN_MAX_CPU_ISA=AVX2 python benchmarks/train_speed.py

CPU: fp32, contiguous vs channels_last (and bf16 autocast with --bf16). CUDA, when present:
fp32 vs AMP (fp16 autocast + GradScaler). The step is ``train.training_step`` with ``TrainConfig``'s
defaults (auxiliary-head losses, gradient clipping), on synthetic tensors, so only the step is timed.
"""
from __future__ import annotations

import argparse
import resource
import time

import torch

from landinglib.devices import autocast_dtype, make_scaler
from landinglib.model import build_model
from landinglib.train import TrainConfig, training_step
from machine import describe


def step_rate(device: torch.device, amp: str, channels_last: bool, batch: int, size: int, steps: int,
              arch: str = "fast") -> tuple[float, float]:
    """(images per second, peak MiB) of the library's training step (AdamW, its AMP choices)."""
    torch.manual_seed(0)
    model = build_model(arch, 4).to(device)
    x = torch.randn(batch, 3, size, size, device=device)
    y = torch.randint(0, 4, (batch, size, size), device=device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    dtype = autocast_dtype(device, amp)
    scaler = make_scaler(device, dtype)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=255)
    config = TrainConfig()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()

    def one_step():
        training_step(model, x, y, optimizer, scaler, loss_fn, device, dtype, config)

    for _ in range(3):  # warm-up
        one_step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        one_step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # process peak RSS
    return batch * steps / (time.perf_counter() - start), peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=6)
    parser.add_argument("--size", type=int, nargs="+", default=[128, 256], help="crop sides to time")
    parser.add_argument("--bf16", action="store_true", help="also time bf16 autocast on the CPU (slow without bf16 units)")
    parser.add_argument("--arch", nargs="+", default=["ultra-fast", "fast"], help="architectures to time")
    args = parser.parse_args()
    runs = [("cpu", "off", False), ("cpu", "off", True)] + ([("cpu", "bf16", True)] if args.bf16 else [])
    if torch.cuda.is_available():
        runs += [("cuda", "off", True), ("cuda", "fp16", True)]
    print(describe())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, batch {args.batch_size}")
    print(f"{'arch':<11} {'crop':>5} {'device':<7} {'precision':<22} {'layout':<14} {'images/s':>9} {'peak MiB':>9}")
    cpu_rates = {}
    for arch in args.arch:
        for size in args.size:
            for dev, amp, cl in runs:
                device = torch.device(dev)
                steps = args.steps if dev == "cpu" else 10 * args.steps
                rate, peak = step_rate(device, amp, cl, args.batch_size, size, steps, arch)
                precision = {"off": "fp32", "fp16": "fp16 autocast + scaler", "bf16": "bf16 autocast"}[amp]
                kind = "GPU allocated" if dev == "cuda" else "process RSS"
                print(f"{arch:<11} {size:>5} {dev:<7} {precision:<22} {'channels_last' if cl else 'contiguous':<14} "
                      f"{rate:>9.1f} {peak:>9.0f}  ({kind})")
                if (dev, amp, cl) == ("cpu", "off", True):
                    cpu_rates[arch, size] = rate
    base = (args.arch[0], max(args.size))
    if base in cpu_rates:
        print(f"\nCPU fp32 channels_last, images/s relative to {base[0]} at {base[1]} px (same run):")
        for (arch, size), rate in cpu_rates.items():
            print(f"  {arch:<11} {size:>4} px: {rate / cpu_rates[base]:5.2f}x")


if __name__ == "__main__":
    main()
