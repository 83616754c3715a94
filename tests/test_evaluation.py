import json

import numpy as np
import pytest
import torch

from landinglib import classes, data, evaluation, metrics
from landinglib.__main__ import main
from landinglib.model import build_model, save_checkpoint

from .conftest import ConstantModel, FakeSession, RecordingModel


def test_evaluate_reports_everything_and_times_inference(udd6_root):
    loaders = data.make_loaders("udd6", udd6_root, size=32, batch_size=2, num_workers=0)
    result = evaluation.evaluate(build_model("ultra-fast", 4), loaders.test)
    for key in ("miou", "pixel_accuracy", "iou", "precision", "recall", "confusion", "seconds_per_image"):
        assert key in result
    assert result["seconds_per_image"] > 0 and np.array(result["confusion"]).shape == (4, 4)
    table = metrics.compare({"random": result, "baseline": metrics.majority_baseline(np.array(result["confusion"]))},
                            classes.LANDING.names)
    assert "random" in table and "baseline" in table and "Safe" in table
    html = table._repr_html_()  # a notebook shows a real table, one row per result
    assert html.count("<tr>") == 3 and "<th" in html and "Safe" in html


def test_evaluate_reports_loss_and_miou(udd6_root):
    loaders = data.make_loaders("udd6", udd6_root, size=32, batch_size=2, num_workers=0)
    result = evaluation.evaluate(build_model("ultra-fast", 4), loaders.val, 4,
                                 loss_fn=torch.nn.CrossEntropyLoss(ignore_index=255))
    assert result["loss"] > 0 and 0 <= result["miou"] <= 1 and len(result["iou"]) == 4
    assert sum(map(sum, result["confusion"])) == result["pixels"] > 0


def _loader(masks):
    images = torch.randn(len(masks), 3, *masks[0].shape)
    return [(images[i:i + 2], torch.stack(masks[i:i + 2])) for i in range(0, len(masks), 2)]


def test_evaluate_scores_torch_models_and_sessions_alike_per_image_and_against_a_reference():
    safe, mixed, ignored = torch.full((4, 4), 1), torch.tensor([[1, 2] * 2] * 4), torch.full((4, 4), 255)
    loader = _loader([safe, mixed, ignored])  # batches of 2 and 1
    model = ConstantModel(1)
    for predictor in (model, FakeSession(model)):
        r = evaluation.evaluate(predictor, loader, 4, per_image=True, reference=ConstantModel(2))
        assert r["confusion"][1][1] == 24 and r["confusion"][2][1] == 8 and r["pixels"] == 32  # 255 never counted
        assert r["miou"] == pytest.approx((24 / 32 + 0) / 2)  # Safe 24/32, Caution 0/8
        assert [s["index"] for s in r["per_image"]] == [0, 1, 2]
        assert [s["miou"] for s in r["per_image"][:2]] == [1.0, pytest.approx(0.25)]  # all right; Safe 8/16, Caution 0
        assert r["per_image"][2]["miou"] != r["per_image"][2]["miou"]  # nothing labelled: NaN, not a score
        assert r["argmax_agreement"] == 0.0 and r["seconds_per_image"] >= 0
    assert evaluation.evaluate(model, loader, 4, reference=model)["argmax_agreement"] == 1.0
    assert evaluation.evaluate(model, loader, max_steps=1)["pixels"] == 32  # classes from the model; first batch


def test_evaluate_refuses_what_it_cannot_run():
    with pytest.raises(TypeError, match="onnxruntime session"):
        evaluation.evaluate(object(), _loader([torch.zeros(4, 4, dtype=torch.long)]), 4)
    with pytest.raises(ValueError, match="num_classes"):
        evaluation.evaluate(FakeSession(ConstantModel(0)), _loader([torch.zeros(4, 4, dtype=torch.long)]))


def test_per_image_scores_cover_every_item(udd6_root):
    ds = data.UDD6Dataset(udd6_root, "test", transform=data.eval_transform(32))
    loader = torch.utils.data.DataLoader(ds, batch_size=3)
    scores = evaluation.evaluate(build_model("ultra-fast", 4), loader, per_image=True)["per_image"]
    assert [s["index"] for s in scores] == list(range(len(ds))) and all(0 <= s["miou"] <= 1 for s in scores)


def _landing_checkpoint(tmp_path, n=4):
    return save_checkpoint(tmp_path / f"m{n}.pt", build_model("ultra-fast", n), class_names=None)


def test_predict_command_writes_overlay_and_sites(udd6_root, tmp_path, capsys):
    ck = _landing_checkpoint(tmp_path)
    folder = udd6_root / "val" / "src"
    assert main(["predict", str(folder), "--checkpoint", str(ck), "--out", str(tmp_path / "pred"), "--short-side", "32"]) == 0
    pngs = sorted((tmp_path / "pred").glob("*_overlay.png"))
    jsons = sorted((tmp_path / "pred").glob("*_sites.json"))
    assert len(pngs) == len(jsons) == 4
    report = json.loads(jsons[0].read_text())
    assert report["size"] == [48, 64] and isinstance(report["sites"], list)
    for r in map(json.loads, (j.read_text() for j in jsons)):  # no site <=> a reason in words
        assert (r["sites"] == []) == bool(r["no_site_because"])
    assert abs(sum(report["class_share"].values()) - 1) < 1e-3
    assert capsys.readouterr().out.count("DJI_val") == 4


def test_predict_command_refuses_a_checkpoint_with_other_classes(udd6_root, tmp_path, capsys):
    ck = _landing_checkpoint(tmp_path, n=6)
    args = ["predict", str(udd6_root / "val" / "src"), "--checkpoint", str(ck), "--out", str(tmp_path / "p")]
    assert main(args) == 2
    assert "not the 4 landing classes" in capsys.readouterr().err
    assert main(["predict", str(tmp_path / "nothing"), "--checkpoint", str(ck), "--out", str(tmp_path / "p")]) == 2


def test_evaluate_command_prints_the_table(udd6_root, tmp_path, capsys):
    ck = _landing_checkpoint(tmp_path)
    assert main(["evaluate", "--checkpoint", str(ck), "--udd6", str(udd6_root), "--size", "32"]) == 0
    out = capsys.readouterr().out
    assert "baseline: majority class" in out and "mIoU" in out


def test_evaluate_command_reports_a_missing_checkpoint(tmp_path, capsys):
    assert main(["evaluate", "--checkpoint", str(tmp_path / "none.pt")]) == 2
    assert "checkpoint not found" in capsys.readouterr().err


def test_predict_logits_runs_torch_in_the_asked_layout_and_precision_and_sessions_in_float32():
    model, images = RecordingModel(num_classes=2), torch.randn(2, 3, 4, 4)
    out = evaluation.predict_logits(model, images, channels_last=True, dtype=torch.bfloat16)
    assert out.dtype == torch.float32 and out.shape == (2, 2, 4, 4)
    assert model.calls[-1] == {"channels_last": True, "autocast": True, "dtype": torch.bfloat16}
    evaluation.predict_logits(model, images)
    assert not model.calls[-1]["channels_last"] and not model.calls[-1]["autocast"]

    class Session:
        def run(self, outputs, feeds):
            self.dtype = feeds["image"].dtype
            return [np.zeros((2, 2, 4, 4), np.float16)]
    session = Session()
    assert evaluation.predict_logits(session, images.double()).dtype == torch.float32
    assert session.dtype == np.float32
    with pytest.raises(TypeError, match="^cannot evaluate a str: pass a torch.nn.Module or an onnxruntime session$"):
        evaluation.predict_logits("model.onnx", images)


def test_predict_logits_gives_the_model_its_batch_on_the_models_own_device():
    """A batch from elsewhere (a reference model on another device than the loader's) is moved to the model;
    the "meta" device stands in for a second device on a CPU-only machine."""
    class DeviceRecorder(torch.nn.Module):
        def __init__(self, device):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(1, device=device))
            self.seen = []

        def forward(self, x):
            self.seen.append(x.device.type)
            return torch.zeros(x.shape[0], 2, *x.shape[2:], device=x.device)

    images = torch.randn(2, 3, 4, 4)
    elsewhere = DeviceRecorder("meta")
    assert evaluation.predict_logits(elsewhere, images).shape == (2, 2, 4, 4) and elsewhere.seen == ["meta"]
    here = DeviceRecorder("cpu")
    evaluation.predict_logits(here, images, device=torch.device("meta"))  # an explicit device wins
    assert here.seen == ["meta"]
