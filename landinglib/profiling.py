"""Where the time goes: a training step split by phase, operator and layer; onnxruntime per node.

``profile_train_step`` times the phases of ``train.training_step`` (forward + loss, backward,
optimizer) with a wall clock, then runs the same steps under ``torch.profiler`` for the operator and
per-convolution breakdown (the profiler's own overhead stays out of the phase figures).
``profile_onnx`` exports the model, optionally quantizes it, and reads onnxruntime's own per-node
profile. Figures are per step (or per frame) averages.
"""
from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

from . import train
from .classes import IGNORE_INDEX
from .devices import make_scaler
from .tables import Table


def describe_machine() -> str:
    """One line for every speed figure: CPU model, usable cores, whether it has AVX2 / AVX-512 /
    VNNI / AMX (Linux), the ISA that oneDNN is held to with ``ONEDNN_MAX_CPU_ISA``, and the features
    that OpenCV (``OPENCV_CPU_DISABLE``) and NumPy (``NPY_DISABLE_CPU_FEATURES``) are told to skip, if any."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name") and model in ("", platform.machine()):
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    isa = [name for name, flag in (("AVX2", "avx2"), ("FMA", "fma"), ("AVX-512", "avx512f"),
                                   ("VNNI", "avx512_vnni"), ("AVX-VNNI", "avx_vnni"), ("AMX", "amx_tile"))
           if flag in flags]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    onednn = os.environ.get("ONEDNN_MAX_CPU_ISA")
    held = [f"{name} without {os.environ[var]}" for name, var in (("OpenCV", "OPENCV_CPU_DISABLE"),
                                                                  ("NumPy", "NPY_DISABLE_CPU_FEATURES"))
            if os.environ.get(var)]
    return (f"CPU: {model}, {cores} cores, {'+'.join(isa) or 'no AVX2'}"
            + (f" (PyTorch's oneDNN held to {onednn}; onnxruntime uses the full ISA)" if onednn else "")
            + (f" ({'; '.join(held)})" if held else ""))


def _conv_signatures(model: nn.Module, x: torch.Tensor) -> dict[tuple, list[str]]:
    """Each convolution's (input shape, weight shape), as the profiler records them, with the names
    of the layers that have it (layers with the same shapes cannot be told apart in a profile)."""
    found: dict[tuple, list[str]] = {}
    hooks = [m.register_forward_pre_hook(lambda m, args, name=name: found.setdefault(
        (tuple(args[0].shape), tuple(m.weight.shape)), []).append(name))
        for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return found


@contextlib.contextmanager
def _quiet_native_stderr():
    """Kineto writes "USDT: profiler_start/stop" lines straight to file descriptor 2 (no switch turns
    them off); hide them so a notebook shows no red block. Exceptions still propagate; anything else
    written to file descriptor 2 during the profiled steps is dropped."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _category(op: str) -> str:
    for key, label in (("convolution_backward", "conv backward"), ("convolution", "conv forward"),
                       ("batch_norm", "batch norm"), ("relu", "ReLU"), ("threshold_backward", "ReLU"),
                       ("upsample", "upsampling"), ("nll_loss", "loss"), ("log_softmax", "loss"),
                       ("Optimizer.", "optimizer"), ("_foreach", "optimizer"), ("lerp_", "optimizer"),
                       ("addcdiv_", "optimizer"), ("addcmul_", "optimizer"), ("sqrt", "optimizer")):
        if key in op:
            return label
    return "other"


def profile_train_step(model: nn.Module, *, batch_size: int = 6, size: int = 256, steps: int = 5,
                       num_classes: int | None = None, channels_last: bool = True) -> dict:
    """CPU fp32 training steps (``train.training_step`` with ``TrainConfig``'s defaults: AdamW,
    cross-entropy, auxiliary-head losses, gradient clipping) on random data, broken down.

    Returns ``ms_per_step``, ``images_per_s``, ``phases`` (forward, backward, optimizer),
    ``operators`` (self time per aten operator, largest first), ``kinds`` (the operators summed by
    kind: conv forward / backward, batch norm, ReLU, loss, optimizer...) and ``layers`` (forward
    and backward time of each convolution, found by its input and weight shapes; layers with the
    same shapes share a row), all in ms per step with a ``share``. Profiler shares are scaled to
    the wall-clock step measured without the profiler; the profiler's cost per call inflates many
    tiny operators (AdamW's on a CPU), so the phase table is the reference for the optimizer, and
    its element-wise ``mul_``/``add_``/``div_`` count as "other".
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    model = model.cpu().train()
    num_classes = num_classes or next(m for m in reversed(list(model.modules())) if isinstance(m, nn.Conv2d)).out_channels
    torch.manual_seed(0)
    x = torch.randn(batch_size, 3, size, size)
    y = torch.randint(0, num_classes, (batch_size, size, size))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    signatures = _conv_signatures(model, x)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    loss_fn = nn.CrossEntropyLoss(ignore_index=IGNORE_INDEX)
    config, cpu = train.TrainConfig(), torch.device("cpu")
    scaler = make_scaler(cpu, None)  # fp32 on the CPU: a disabled scaler, as fit makes there

    def step(clock: dict | None = None):  # train.training_step, phase by phase
        t0 = time.perf_counter()
        loss = train.forward_loss(model, x, y, loss_fn, cpu, None, config.aux_weight)
        t1 = time.perf_counter()
        train.backward(loss, optimizer, scaler)
        t2 = time.perf_counter()
        train.optimizer_step(model, optimizer, scaler, config.grad_clip)
        t3 = time.perf_counter()
        if clock is not None:
            for name, seconds in (("forward + loss", t1 - t0), ("backward", t2 - t1), ("optimizer", t3 - t2)):
                clock[name] = clock.get(name, 0.0) + seconds

    for _ in range(2):
        step()
    clock: dict[str, float] = {}
    for _ in range(steps):
        step(clock)
    total = sum(clock.values())
    phases = [{"phase": k, "ms": 1e3 * v / steps, "share": v / total} for k, v in clock.items()]

    from torch.profiler import ProfilerActivity, profile, schedule
    with _quiet_native_stderr(), profile(activities=[ProfilerActivity.CPU], record_shapes=True,
                                         schedule=schedule(wait=0, warmup=1, active=steps, repeat=1)) as prof:
        for _ in range(steps + 1):  # the first profiled step only warms the profiler up
            step()
            prof.step()
    step_ms = 1e3 * total / steps
    events = prof.key_averages()
    profiled = sum(e.self_cpu_time_total for e in events) or 1.0  # shares of this, scaled to the wall-clock step

    def timed(microseconds: float) -> dict:
        return {"ms": step_ms * microseconds / profiled, "share": microseconds / profiled}

    operators = sorted(({"operator": e.key, "kind": _category(e.key), **timed(e.self_cpu_time_total)}
                        for e in events if e.self_cpu_time_total > 0), key=lambda r: -r["ms"])
    kinds: dict[str, float] = {}
    for row in operators:
        kinds[row["kind"]] = kinds.get(row["kind"], 0.0) + row["share"]
    kinds_rows = [{"kind": k, "ms": share * step_ms, "share": share} for k, share in sorted(kinds.items(), key=lambda kv: -kv[1])]
    micros = {signature: [0.0, 0.0] for signature in signatures}
    for e in prof.key_averages(group_by_input_shape=True):
        if e.key in ("aten::convolution", "aten::convolution_backward"):
            backward = e.key.endswith("backward")
            shapes = e.input_shapes  # forward: (input, weight, ...); backward: (grad_output, input, weight, ...)
            signature = (tuple(shapes[1]), tuple(shapes[2])) if backward else (tuple(shapes[0]), tuple(shapes[1]))
            if signature in micros:
                micros[signature][backward] += e.cpu_time_total
    layers = [{"layer": names[0] if len(names) == 1 else f"{names[0]} (+{len(names) - 1} alike)",
               "forward ms": timed(f)["ms"], "backward ms": timed(b)["ms"], "share": (f + b) / profiled}
              for (names, (f, b)) in ((signatures[k], v) for k, v in micros.items())]
    return {"ms_per_step": step_ms, "images_per_s": batch_size * steps / total, "phases": phases,
            "operators": operators, "kinds": kinds_rows, "layers": layers, "batch_size": batch_size, "size": size}


def profile_onnx(model: nn.Module, folder: str | Path, *, precision: str = "fp32", calibration_loader=None,
                 size: int = 256, threads: int = 2, runs: int = 30) -> dict:
    """Export ``model`` to ``folder`` (INT8: quantized, calibrated on ``calibration_loader``) and run
    it ``runs`` times at batch 1 with onnxruntime's profiler on.

    Returns ``ms_per_run`` (median of the session's own run times, profiling on: a little slower
    than without) and ``nodes``: mean ms per run of
    each graph node (operator type and share), largest first.
    """
    from . import export

    if precision not in ("fp32", "int8"):
        raise ValueError(f"precision must be 'fp32' or 'int8', got {precision!r}")
    if runs < 2:
        raise ValueError(f"runs must be at least 2 (the first run only warms up), got {runs}")
    folder = Path(folder)
    path = folder / "profiled.onnx"
    export.to_onnx(model, path, size=size, check=False)
    if precision == "int8":
        if calibration_loader is None:
            raise ValueError("INT8 needs a calibration_loader of real images (not noise)")
        path = Path(export.quantize_int8(path, calibration_loader, folder / "profiled.int8.onnx")["int8_path"])
    session = export.onnx_session(path, threads, profile_prefix=folder / f"ort_{precision}")
    x = torch.randn(1, 3, size, size).numpy()
    for _ in range(runs):
        session.run(None, {"image": x})
    trace = json.loads(Path(session.end_profiling()).read_text())
    run_ms = [e["dur"] / 1e3 for e in trace if e.get("cat") == "Session" and e.get("name") == "model_run"]
    per_node: dict[str, dict] = {}
    for e in trace:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time"):
            name = e["name"][: -len("_kernel_time")]
            row = per_node.setdefault(name, {"node": name, "op": e.get("args", {}).get("op_name", "?"), "ms": 0.0})
            row["ms"] += e["dur"] / 1e3 / runs
    total = sum(r["ms"] for r in per_node.values()) or 1.0
    nodes = sorted(per_node.values(), key=lambda r: -r["ms"])
    for row in nodes:
        row["share"] = row["ms"] / total
    return {"ms_per_run": statistics.median(run_ms[1:]), "nodes": nodes, "precision": precision,
            "path": str(path)}


def format_table(rows: list[dict], first: str) -> Table | str:
    """Rows of dicts as a table (``tables.Table``: text when printed, HTML in a notebook), ``first``
    column first, numbers to 2 decimals, shares as percentages."""
    if not rows:
        return "(nothing measured)"
    keys = [first] + [k for k in rows[0] if k != first]

    def cell(key, value):
        if key == "share":
            return f"{value:.0%}"
        return f"{value:.2f}" if isinstance(value, float) else str(value)

    return Table(keys, [[cell(k, r[k]) for k in keys] for r in rows])
