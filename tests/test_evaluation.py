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


# --- the pieces of the landing figures -------------------------------------------------------------------
def test_the_valid_region_drops_only_the_trailing_rows_and_columns_that_padding_filled_with_ignore():
    mask = torch.full((10, 12), 255)
    mask[:7, :9] = 1
    mask[6, 1:] = 255  # the last labelled row is labelled in its first column only
    mask[1:, 8] = 255  # the last labelled column in its first row only
    mask[2, 3] = 255  # a hole inside changes nothing
    assert evaluation._valid_region(mask) == (7, 9)
    one = torch.full((5, 5), 255)
    one[0, 0] = 2
    assert evaluation._valid_region(one) == (1, 1)
    assert evaluation._valid_region(torch.full((4, 6), 255)) == (0, 0)


def _safe_square(p_safe: float = 0.9, side: int = 21, size: int = 41) -> np.ndarray:
    """Probabilities of a (size x size) frame: a Safe square of ``side`` px in the middle, Danger around it."""
    probs = np.zeros((4, size, size), np.float32)
    probs[3] = 1.0
    lo = (size - side) // 2
    rest = (1 - p_safe) / 3
    probs[:, lo:lo + side, lo:lo + side] = rest
    probs[1, lo:lo + side, lo:lo + side] = p_safe
    return probs


def test_the_best_site_check_uses_the_default_half_metre_drone_and_the_radius_it_is_given():
    probs, truth = _safe_square(), np.ones((41, 41), np.int64)  # truth: Safe everywhere
    # at 0.17 m/px a 0.5 m drone with its 0.5 m margin needs 5.9 px of Safe all round: the square has 10
    assert evaluation.best_site_check(probs, truth) is True
    # a 1.5 m drone needs 11.8 px: no site in this square (the finder is told the radius, not only the check)
    assert evaluation.best_site_check(probs, truth, drone_radius_m=1.5) is None


def test_the_best_site_check_drops_sites_the_model_is_not_sure_of():
    probs, truth = _safe_square(p_safe=0.4), np.ones((41, 41), np.int64)  # Safe is most likely, at 0.4
    assert evaluation.best_site_check(probs, truth) is None  # the finder's confidence floor is 0.5


def test_the_best_site_check_tests_the_whole_footprint_with_its_margin_against_the_truth():
    from landinglib.landing import DEFAULT_GSD_M, MARGIN_M, find_landing_sites, footprint_radius_px

    probs = _safe_square()
    site = find_landing_sites(probs.argmax(0), gsd_m=DEFAULT_GSD_M, probs=probs, max_sites=1)[0]
    radius = footprint_radius_px(DEFAULT_GSD_M, 0.5, MARGIN_M)
    yy, xx = np.mgrid[:41, :41]
    distance = np.hypot(xx - site.center[0], yy - site.center[1])
    truth = np.ones((41, 41), np.int64)
    truth[(distance > radius - 1.5) & (distance <= radius)] = 3  # Danger just inside the footprint's rim
    assert evaluation.best_site_check(probs, truth) is False
    truth[distance <= radius] = 1
    truth[(distance > radius) & (distance <= radius + 1.5)] = 3  # and just outside it: the site stands
    assert evaluation.best_site_check(probs, truth) is True
