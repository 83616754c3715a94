import json

import numpy as np
import pytest
import torch

from landinglib import classes, data, evaluation, export, train
from landinglib.__main__ import main
from landinglib.model import build_model, save_checkpoint


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny landing model trained a few dozen steps on the fast built-in data, exported to
    fp32 and INT8 ONNX; returns (model, loaders, folder, quantization report)."""
    loaders = data.make_loaders("udd6", size=64, batch_size=4, num_workers=0, limit=8)
    torch.manual_seed(0)
    model = build_model("ultra-fast", 4)
    train.fit(model, loaders.train, loaders.val, train.TrainConfig(epochs=8, lr=3e-3, progress=False, device="cpu"))
    folder = tmp_path_factory.mktemp("export")
    export.to_onnx(model, folder / "landing.onnx", size=64)
    q = export.quantize_int8(folder / "landing.onnx", loaders.val, max_images=8)
    return model.eval(), loaders, folder, q


@pytest.mark.parametrize("size", [256, 96])
def test_onnx_round_trip_matches_pytorch(tmp_path, size):
    model = build_model("ultra-fast", 4).eval()
    report = export.to_onnx(model, tmp_path / "m.onnx", size=size)
    assert report["max_abs_diff"] < export.TOLERANCE and report["argmax_agreement"] == 1.0
    assert not list(tmp_path.glob("*.data"))  # weights embedded in the one file
    session = export.onnx_session(tmp_path / "m.onnx")
    x = torch.randn(3, 3, 64, 128)  # another batch and a non-square size
    with torch.no_grad():
        np.testing.assert_allclose(session.run(None, {"image": x.numpy()})[0], model(x).numpy(), atol=1e-4)


def test_int8_is_smaller_and_agrees_with_fp32(trained):
    model, loaders, tmp, q = trained
    assert q["int8_bytes"] * 3 < q["fp32_bytes"] and q["per_channel"] is False
    fp32, int8 = export.onnx_session(q["fp32_path"]), export.onnx_session(q["int8_path"])
    acc = evaluation.evaluate(int8, loaders.test, 4, reference=fp32)  # the one scoring loop takes sessions too
    assert acc["argmax_agreement"] > 0.95  # stated threshold for a trained model
    assert abs(acc["miou"] - evaluation.evaluate(fp32, loaders.test, 4)["miou"]) < 0.05


def test_int8_weights_leave_headroom_for_cpus_without_vnni(trained):
    """On AVX2-only CPUs onnxruntime adds pairs of uint8 x int8 products into 16 bits (with saturation); weights
    of at most 64 in size keep every pair in range (2 x 255 x 64 < 32767). Full 8-bit weights cost 15 % of pixels
    their class in a briefly trained model on such a CPU."""
    import onnx
    from onnx import numpy_helper

    *_, q = trained
    assert q["reduce_range"] is True
    weights = [numpy_helper.to_array(t) for t in onnx.load(q["int8_path"]).graph.initializer
               if t.data_type == onnx.TensorProto.INT8 and len(t.dims) == 4]  # the convolutions' kernels
    assert weights and all(int(np.abs(w.astype(np.int16)).max()) <= 64 for w in weights)
    assert max(int(np.abs(w.astype(np.int16)).max()) for w in weights) >= 60  # the 7 bits are used, not a scale gone wrong


def test_latency_benchmark_returns_a_row_per_engine_and_batch(trained):
    model, _, tmp, _ = trained
    rows = export.benchmark_latency(model, tmp / "landing.onnx", tmp / "landing.int8.onnx", size=64,
                                    batches=(1, 2), runs=3, warmup=1)
    assert [(r["engine"], r["batch"]) for r in rows][:4] == [
        ("PyTorch eager fp32", 1), ("PyTorch channels_last", 1), ("onnxruntime fp32", 1), ("onnxruntime INT8", 1)]
    assert len(rows) == 8 and all(r["p90_ms"] >= r["median_ms"] > 0 for r in rows)
    assert "onnxruntime INT8" in export.format_latency(rows, {"onnxruntime INT8": 1000})


def test_missing_or_corrupt_onnx_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="ONNX model not found"):
        export.onnx_session(tmp_path / "none.onnx")
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="cannot load ONNX model"):
        export.onnx_session(tmp_path / "bad.onnx")


@pytest.mark.parametrize("arch", ["ultra-fast", "fast"])
def test_every_shipped_architecture_quantizes_and_leaves_no_files_behind(tmp_path, monkeypatch, arch):
    """``fast`` trips onnxruntime's symbolic shape inference (which then drops temporary files in the
    working folder): quantization must still succeed, and the folder stay clean."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    loader = data.make_loaders("udd6", size=64, batch_size=1, num_workers=0, limit=4).val
    export.to_onnx(build_model(arch, 4), tmp_path / "m.onnx", size=64, check=False)
    q = export.quantize_int8("../m.onnx", loader, "../m.int8.onnx", max_images=4)  # relative to the working folder
    session = export.onnx_session(q["int8_path"])
    assert session.run(None, {"image": np.zeros((1, 3, 64, 64), np.float32)})[0].shape == (1, 4, 64, 64)
    assert list(work.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.int8.onnx", "m.onnx", "work"]


def test_onnx_export_of_the_other_architectures(tmp_path):
    for name in ("fast", "accurate"):
        report = export.to_onnx(build_model(name, 4).eval(), tmp_path / f"{name}.onnx", size=128)
        assert report["max_abs_diff"] < export.TOLERANCE


def test_dynamic_quantization_leaves_conv2d_untouched():
    """Why the course does not use quantize_dynamic: it has nothing to do for convolutions."""
    import warnings

    model = build_model("ultra-fast", 4).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear, torch.nn.Conv2d}, dtype=torch.qint8)
    assert type(q.backbone[0]) is torch.nn.Conv2d
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(q(x), model(x))


def test_export_command_writes_both_models_and_a_report(udd6_root, tmp_path, capsys):
    ck = save_checkpoint(tmp_path / "m.pt", build_model("ultra-fast", 4), safety={"threshold": 0.8, "budget": 0.02})
    args = ["export", "--checkpoint", str(ck), "--out", str(tmp_path / "out"), "--int8", "--udd6", str(udd6_root),
            "--size", "32", "--calibration-images", "4"]
    assert main(args) == 0
    report = json.loads((tmp_path / "out" / "export.json").read_text())
    assert report["safe_threshold"] == 0.8  # the Safe rule travels with the model, in both files
    for name in ("landing.onnx", "landing.int8.onnx"):
        assert export.metadata(tmp_path / "out" / name)["safe_threshold"] == "0.8"
    assert (tmp_path / "out" / "landing.onnx").is_file() and (tmp_path / "out" / "landing.int8.onnx").is_file()
    assert report["int8"]["int8_bytes"] < report["onnx"]["bytes"] and "test_miou_int8" in report["int8"]
    assert "landing.int8.onnx" in capsys.readouterr().out
    wrong = save_checkpoint(tmp_path / "m6.pt", build_model("ultra-fast", 6))
    assert main(["export", "--checkpoint", str(wrong), "--out", str(tmp_path / "x")]) == 2
    assert classes.LANDING.names[1] in capsys.readouterr().err


def test_export_prints_no_third_party_noise(tmp_path, capfd):
    export.to_onnx(build_model("ultra-fast", 4), tmp_path / "m.onnx", size=64, check=False)
    out, err = capfd.readouterr()
    assert "torchvision" not in out + err and "Skipping" not in out + err


def test_int8_calibration_sets_its_ranges_from_the_images_it_is_given(tmp_path):
    """MinMax calibration on images of one constant value gives the input a tiny quantization step;
    calibration on anything else (random noise, say) would not."""
    model = build_model("ultra-fast", 4).eval()
    export.to_onnx(model, tmp_path / "m.onnx", size=64, check=False)
    constant = [(torch.full((2, 3, 64, 64), 0.5), torch.zeros(2, 64, 64, dtype=torch.long))]
    export.quantize_int8(tmp_path / "m.onnx", constant, tmp_path / "m.int8.onnx", max_images=2)
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(tmp_path / "m.int8.onnx").graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    node = next(n for n in graph.node if n.op_type == "QuantizeLinear" and n.input[0] == "image")
    scale = float(inits[node.input[1]])
    assert scale == pytest.approx(0.5 / 255, rel=0.05)  # range [0, 0.5] over 255 steps
