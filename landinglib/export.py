"""Ship the model: ONNX export with a numerical check, onnxruntime sessions, static INT8
quantization with calibration on real validation images, and a latency benchmark.

Why static quantization: ``torch.ao.quantization.quantize_dynamic`` only quantizes Linear/LSTM
weights; it leaves every Conv2d of this network untouched (same size, same speed). onnxruntime's
static quantization converts the convolutions themselves: weights to int8, activations to uint8
with scales measured on calibration images, written in QDQ format.
"""
from __future__ import annotations

import contextlib
import logging
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

ONNX_OPSET = 18
TOLERANCE = 1e-3  # max |logit difference| accepted between PyTorch and onnxruntime (fp32)
_REGISTRATION_LOG = "torch.onnx._internal.exporter._registration"


@contextlib.contextmanager
def _quiet_exporter():
    """Silence the exporter's notes that it skips torchvision's operators: the course does not use
    torchvision, so they are expected, and in a notebook they look like errors."""
    logger = logging.getLogger(_REGISTRATION_LOG)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.export internals, not ours to fix
            yield
    finally:
        logger.setLevel(level)


def to_onnx(model: torch.nn.Module, path: str | os.PathLike, *, size: int = 256, check: bool = True,
            embed_weights: bool = True) -> dict:
    """Export to ONNX with dynamic batch, height and width (``image`` -> ``logits``).

    Weights are embedded in the single ``.onnx`` file unless ``embed_weights=False``. With
    ``check``, the file passes ``onnx.checker`` and onnxruntime must match PyTorch within
    ``TOLERANCE`` on random inputs at ``size`` and at another size; returns that report.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.cpu().eval().to(memory_format=torch.contiguous_format)
    example = torch.randn(1, 3, size, size)
    dims = {0: torch.export.Dim("batch"), 2: torch.export.Dim("height"), 3: torch.export.Dim("width")}
    with _quiet_exporter():
        torch.onnx.export(model, (example,), str(path), dynamo=True, external_data=not embed_weights,
                          dynamic_shapes=(dims,), input_names=["image"], output_names=["logits"],
                          opset_version=ONNX_OPSET, verbose=False)
    threshold = getattr(model, "safe_threshold", None)
    if threshold is not None:
        set_metadata(path, {"safe_threshold": threshold})
    report = {"path": str(path), "bytes": path.stat().st_size, "safe_threshold": threshold}
    if check:
        report.update(verify_onnx(model, path, size=size))
    return report


def set_metadata(path: str | os.PathLike, values: dict) -> None:
    """Write ``values`` into an ONNX file's metadata (strings; read back with ``metadata``), e.g. the
    landing model's ``safe_threshold``: an application that loads only the ``.onnx`` file needs it to
    apply the decision rule (``safety.landing_mask``)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)  # weights in a side file stay there
    props = {p.key: p.value for p in model.metadata_props} | {k: str(v) for k, v in values.items()}
    del model.metadata_props[:]
    for key, value in sorted(props.items()):
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(path))


def metadata(path: str | os.PathLike) -> dict[str, str]:
    """The metadata of an ONNX file (see ``set_metadata``)."""
    import onnx

    return {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}


def verify_onnx(model: torch.nn.Module, path: str | os.PathLike, *, size: int = 256) -> dict:
    """onnx.checker, then PyTorch vs onnxruntime on two input sizes: max |difference| and argmax agreement."""
    import onnx

    onnx.checker.check_model(str(path))
    session = onnx_session(path)
    worst, agree = 0.0, 1.0
    torch.manual_seed(0)
    for shape in [(1, 3, size, size), (2, 3, size - size // 4, size + size // 2)]:
        x = torch.randn(shape)
        with torch.no_grad():
            expected = model(x).numpy()
        got = session.run(None, {"image": x.numpy()})[0]
        if got.shape != expected.shape:
            raise AssertionError(f"ONNX output {got.shape} != PyTorch {expected.shape} for input {shape}")
        worst = max(worst, float(np.abs(got - expected).max()))
        agree = min(agree, float((got.argmax(1) == expected.argmax(1)).mean()))
    if worst > TOLERANCE:
        raise AssertionError(f"{path}: onnxruntime differs from PyTorch by {worst:.2e} (> {TOLERANCE})")
    return {"max_abs_diff": worst, "argmax_agreement": agree, "tolerance": TOLERANCE}


def onnx_session(path: str | os.PathLike, threads: int | None = None, profile_prefix: str | os.PathLike | None = None):
    """An onnxruntime CPU session; a missing or corrupt file is a clear error. With
    ``profile_prefix``, onnxruntime's own profiler writes its trace there (``session.end_profiling()``)."""
    import onnxruntime as ort

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ONNX model not found: {path}")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    if profile_prefix is not None:
        options.enable_profiling = True
        options.profile_file_prefix = str(profile_prefix)
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise ValueError(f"cannot load ONNX model {path}: {err}") from err


class _CalibrationReader:
    """Feeds normalised images from a loader to onnxruntime's calibrator, one batch at a time."""

    def __init__(self, loader, max_images: int):
        self.batches, n = [], 0
        for images, _ in loader:
            for image in images:
                if n >= max_images:
                    break
                self.batches.append({"image": image[None].numpy().astype(np.float32)})
                n += 1
        self._iter = iter(self.batches)

    def get_next(self):
        return next(self._iter, None)

    def rewind(self):
        self._iter = iter(self.batches)


def quantize_int8(onnx_path: str | os.PathLike, calibration_loader, out_path: str | os.PathLike | None = None, *,
                  per_channel: bool = False, activation_type: str = "uint8", reduce_range: bool = True,
                  max_images: int = 64) -> dict:
    """Static INT8 quantization (QDQ) calibrated on real images; returns sizes and the settings used.

    Defaults (chosen with ``benchmarks/inference_latency.py``; figures in ``benchmarks/RESULTS.md``): per-tensor
    weights (per-channel was no faster) and uint8 activations with int8 weights (the fast path of onnxruntime's x86
    kernels). BatchNorm is folded into the convolutions first. ``reduce_range`` keeps the weights in 7 bits
    (-64..64): on x86 CPUs without VNNI (most laptops: AVX2 only) onnxruntime multiplies uint8 by int8 with an
    instruction that adds pairs of products into 16 bits, and full 8-bit weights can overflow it; onnxruntime
    recommends it on such CPUs.
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    onnx_path = Path(onnx_path).resolve()  # absolute: the pre-processing below runs in another folder
    out_path = Path(out_path).resolve() if out_path else onnx_path.with_suffix(".int8.onnx")
    reader = _CalibrationReader(calibration_loader, max_images)
    if not reader.batches:
        raise ValueError("the calibration loader gave no images")
    act = {"uint8": QuantType.QUInt8, "int8": QuantType.QInt8}[activation_type]
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        cwd = os.getcwd()
        os.chdir(tmp)  # when symbolic inference gives up it leaves its temporary files in the working folder
        try:
            try:
                quant_pre_process(str(onnx_path), str(prepared), skip_symbolic_shape=False)
            except Exception:  # noqa: BLE001 - symbolic inference gives up on some graphs (e.g. fast's
                # global-context resize); ONNX's own shape inference is enough for the quantizer there
                quant_pre_process(str(onnx_path), str(prepared), skip_symbolic_shape=True)
        finally:
            os.chdir(cwd)
        quantize_static(str(prepared), str(out_path), reader, quant_format=QuantFormat.QDQ,
                        activation_type=act, weight_type=QuantType.QInt8, per_channel=per_channel,
                        reduce_range=reduce_range, calibrate_method=CalibrationMethod.MinMax)
    carried = metadata(onnx_path)
    if carried:  # the quantizer writes a new model: the fp32 file's metadata (the Safe threshold) goes with it
        set_metadata(out_path, carried)
    return {"fp32_path": str(onnx_path), "int8_path": str(out_path), "fp32_bytes": onnx_path.stat().st_size,
            "int8_bytes": out_path.stat().st_size, "per_channel": per_channel, "activation_type": activation_type,
            "reduce_range": reduce_range, "calibration_images": len(reader.batches),
            "size_ratio": onnx_path.stat().st_size / out_path.stat().st_size}


def time_call(fn, runs: int, warmup: int) -> dict:
    """Median and p90 milliseconds of ``fn()`` over ``runs`` calls, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - start))
    times.sort()
    return {"median_ms": statistics.median(times), "p90_ms": times[min(len(times) - 1, int(0.9 * len(times)))]}


def benchmark_latency(model: torch.nn.Module, fp32_path, int8_path=None, *, size: int = 256, batches=(1, 8),
                      threads: int = 2, runs: int = 50, warmup: int = 5) -> list[dict]:
    """Median and p90 latency (ms) of PyTorch eager (as is, and with ``channels_last``), onnxruntime
    fp32 and (if ``int8_path`` is given) onnxruntime INT8 at ``size`` for each batch size, with a fixed thread count.
    One row per (engine, batch)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    model = model.cpu().eval()
    sessions = {"onnxruntime fp32": onnx_session(fp32_path, threads)}
    if int8_path is not None:
        sessions["onnxruntime INT8"] = onnx_session(int8_path, threads)
    rows = []
    try:
        for batch in batches:
            x = torch.randn(batch, 3, size, size)
            with torch.no_grad():
                for layout, name in ((torch.contiguous_format, "PyTorch eager fp32"),
                                     (torch.channels_last, "PyTorch channels_last")):
                    model.to(memory_format=layout)
                    xl = x.contiguous(memory_format=layout)
                    rows.append({"engine": name, "batch": batch, **time_call(lambda: model(xl), runs, warmup)})
                model.to(memory_format=torch.contiguous_format)
            feed = {"image": x.numpy()}
            for name, session in sessions.items():
                rows.append({"engine": name, "batch": batch, **time_call(lambda s=session: s.run(None, feed), runs, warmup)})
    finally:
        torch.set_num_threads(previous)
    for row in rows:
        row["ms_per_image"] = row["median_ms"] / row["batch"]
    return rows


def format_latency(rows: list[dict], sizes: dict[str, int] | None = None) -> str:
    """A text table of ``benchmark_latency`` rows (and file sizes in MB when given)."""
    lines = [f"{'engine':<22} {'batch':>5} {'median ms':>10} {'p90 ms':>8} {'ms/image':>9} {'size MB':>8}"]
    for r in rows:
        size = sizes.get(r["engine"]) if sizes else None
        size_text = f"{size / 1e6:>8.2f}" if size else f"{'':>8}"
        lines.append(f"{r['engine']:<22} {r['batch']:>5} {r['median_ms']:>10.1f} {r['p90_ms']:>8.1f} "
                     f"{r['ms_per_image']:>9.1f} {size_text}")
    return "\n".join(lines)
