"""The three architectures side by side: parameters, MACs, latency, test mIoU.

    python benchmarks/architectures.py [--train] [--threads 2]

Latency: 256x256, batch 1, fixed threads, PyTorch eager and onnxruntime fp32 (median of runs).
Test mIoU: the final (stage 2) test mIoU over the 4 landing classes of the default pipeline run on
the built-in data (each architecture with its own default epochs, ``pipeline_config.EPOCHS``), read from
runs/arch-<name>/results.json (runs/default for the default architecture); ``--train`` runs
`landinglib train --arch NAME` for the missing ones.
Writes the table to runs/architectures.json (notebook 02 shows it).
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch

from landinglib import export
from landinglib.model import build_model, count_macs, count_parameters
from landinglib.pipeline import PipelineConfig, run

ARCHS = ("ultra-fast", "fast", "accurate")


def results_path(name: str) -> Path:
    return Path("runs/default/results.json") if name == PipelineConfig().arch else Path(f"runs/arch-{name}/results.json")


def latency(name: str, threads: int, runs: int) -> dict:
    model = build_model(name, 4).eval()
    with tempfile.TemporaryDirectory() as tmp:
        export.to_onnx(model, Path(tmp) / "m.onnx", check=False)
        rows = export.benchmark_latency(model, Path(tmp) / "m.onnx", batches=(1,), threads=threads, runs=runs)
    ms = {r["engine"]: r["median_ms"] for r in rows}
    return {"pytorch_ms": ms["PyTorch eager fp32"], "pytorch_channels_last_ms": ms["PyTorch channels_last"],
            "onnxruntime_ms": ms["onnxruntime fp32"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", action="store_true", help="run the pipeline for architectures without results")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    table = []
    for name in ARCHS:
        path = results_path(name)
        if not path.exists() and args.train:
            run(PipelineConfig(arch=name, out=str(path.parent)))
        model = build_model(name, 4).eval()
        row = {"arch": name, "params": count_parameters(model), "macs": count_macs(model), **latency(name, args.threads, args.runs)}
        if name == "accurate":
            row["params_inference"] = count_parameters(build_model(name, 4)) - sum(
                p.numel() for n, p in model.named_parameters() if n.startswith("aux"))
        if path.exists():
            stages = json.loads(path.read_text())["stages"]
            row.update(test_miou=stages[-1]["test_miou"], stage_seconds=sum(s["seconds"] for s in stages))
        table.append(row)
    print(f"torch {torch.__version__}, {args.threads} threads, 256x256, batch 1")
    print(f"{'arch':<11} {'params':>10} {'GMAC':>6} {'PyTorch ms':>10} {'ORT fp32 ms':>11} {'test mIoU':>9} {'train s':>8}")
    for r in table:
        params = r.get("params_inference", r["params"])
        miou = f"{r['test_miou']:.3f}" if "test_miou" in r else "-"
        secs = f"{r['stage_seconds']:.0f}" if "stage_seconds" in r else "-"
        print(f"{r['arch']:<11} {params:>10,} {r['macs'] / 1e9:>6.2f} {r['pytorch_ms']:>10.1f} {r['onnxruntime_ms']:>11.1f} "
              f"{miou:>9} {secs:>8}")
    Path("runs").mkdir(exist_ok=True)
    Path("runs/architectures.json").write_text(json.dumps(table, indent=2))


if __name__ == "__main__":
    main()
