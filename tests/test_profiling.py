import pytest
import torch

from landinglib import profiling, train
from landinglib.model import UltraFastBiSeNet


def test_train_step_profile_covers_every_phase_and_every_convolution():
    model = UltraFastBiSeNet(4)
    report = profiling.profile_train_step(model, batch_size=2, size=32, steps=1)
    phases = {row["phase"]: row for row in report["phases"]}
    assert set(phases) == {"forward + loss", "backward", "optimizer"}
    assert sum(row["ms"] for row in phases.values()) == pytest.approx(report["ms_per_step"])
    assert sum(row["share"] for row in phases.values()) == pytest.approx(1.0)
    assert report["images_per_s"] == pytest.approx(2 / (report["ms_per_step"] / 1e3))
    convs = [name for name, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)]
    layers = {row["layer"]: row for row in report["layers"]}
    assert sorted(layers) == sorted(convs)
    assert all(row["forward ms"] > 0 and row["backward ms"] > 0 for row in layers.values())
    kinds = {row["kind"] for row in report["operators"]}
    assert {"conv forward", "conv backward", "batch norm", "loss", "optimizer"} <= kinds
    assert sum(row["ms"] for row in report["kinds"]) == pytest.approx(report["ms_per_step"])
    assert {row["kind"] for row in report["kinds"]} == kinds
    shares = [row["share"] for row in report["operators"]]
    assert shares == sorted(shares, reverse=True) and sum(shares) == pytest.approx(1.0)


def test_the_profiled_step_is_the_training_step_fit_takes_phase_by_phase(monkeypatch):
    """forward + loss, backward, optimizer: train.training_step's three parts, in its order, with the training
    defaults (auxiliary-head weight, gradient clipping); two warm-up steps, the timed ones, then the profiled ones
    (one more: the profiler's warm-up)."""
    calls = []
    for name in ("forward_loss", "backward", "optimizer_step"):
        real = getattr(train, name)
        monkeypatch.setattr(train, name, lambda *a, _real=real, _name=name: (calls.append((_name, a)), _real(*a))[1])
    profiling.profile_train_step(UltraFastBiSeNet(4), batch_size=1, size=32, steps=2)
    assert [name for name, _ in calls] == ["forward_loss", "backward", "optimizer_step"] * (2 + 2 + 3)
    defaults = train.TrainConfig()
    assert all(a[-1] == defaults.aux_weight for name, a in calls if name == "forward_loss")
    assert all(a[-1] == defaults.grad_clip for name, a in calls if name == "optimizer_step")


def test_every_convolution_is_counted_once_even_when_layers_share_shapes():
    """fast has four depthwise blocks with the same shapes: they share a row, none is lost or doubled."""
    from landinglib.model import build_model

    model = build_model("fast", 4)
    report = profiling.profile_train_step(model, batch_size=2, size=64, steps=1)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    counted = 0
    for row in report["layers"]:
        counted += 1 + (int(row["layer"].split("(+")[1].split()[0]) if "(+" in row["layer"] else 0)
        assert row["forward ms"] > 0 and row["backward ms"] > 0, row
    assert counted == len(convs)
    assert any("alike" in row["layer"] for row in report["layers"])
    with pytest.raises(ValueError, match="steps"):
        profiling.profile_train_step(model, steps=0)


def test_onnx_profile_lists_the_graph_nodes(tmp_path):
    report = profiling.profile_onnx(UltraFastBiSeNet(4), tmp_path, size=64, runs=3)
    assert report["ms_per_run"] > 0
    ops = {row["op"] for row in report["nodes"]}
    assert "Conv" in ops or "FusedConv" in ops
    assert sum(row["share"] for row in report["nodes"]) == pytest.approx(1.0)


def test_int8_profile_needs_real_calibration_images(tmp_path):
    with pytest.raises(ValueError, match="calibration"):
        profiling.profile_onnx(UltraFastBiSeNet(4), tmp_path, precision="int8", size=64)
    with pytest.raises(ValueError, match="precision"):
        profiling.profile_onnx(UltraFastBiSeNet(4), tmp_path, precision="fp16", size=64)


def test_int8_profile_runs_quantized_kernels(tmp_path, udd6_root):
    from landinglib import data

    loader = data.make_loaders("udd6", udd6_root, size=64, batch_size=1, num_workers=0).val
    report = profiling.profile_onnx(UltraFastBiSeNet(4), tmp_path, precision="int8", calibration_loader=loader,
                                    size=64, runs=3)
    assert any(row["op"].startswith("QLinear") for row in report["nodes"])
    assert report["path"].endswith(".int8.onnx")


def test_format_table_aligns_columns_and_shows_shares_as_percent():
    text = profiling.format_table([{"layer": "a", "ms": 1.234, "share": 0.25}, {"layer": "bb", "ms": 10.0, "share": 0.75}],
                                  "layer")
    lines = text.splitlines()
    assert lines[0].split() == ["layer", "ms", "share"]
    assert lines[1].split() == ["a", "1.23", "25%"] and lines[2].split() == ["bb", "10.00", "75%"]
    assert len({len(line) for line in lines}) == 1
    assert profiling.format_table([], "layer") == "(nothing measured)"


def test_machine_description_names_the_cpu_and_the_isa_limit(monkeypatch):
    for var in ("ONEDNN_MAX_CPU_ISA", "OPENCV_CPU_DISABLE", "NPY_DISABLE_CPU_FEATURES"):
        monkeypatch.delenv(var, raising=False)
    line = profiling.describe_machine()
    assert line.startswith("CPU: ") and " cores" in line and "held to" not in line and "without" not in line
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert "oneDNN held to AVX2" in profiling.describe_machine()
    monkeypatch.setenv("OPENCV_CPU_DISABLE", "AVX512-SKX")
    monkeypatch.setenv("NPY_DISABLE_CPU_FEATURES", "X86_V4")
    assert profiling.describe_machine().endswith("(OpenCV without AVX512-SKX; NumPy without X86_V4)")
