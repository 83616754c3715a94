import json

import numpy as np
import pytest
import torch

from landinglib import classes, data, metrics
from landinglib.__main__ import main
from landinglib.model import RemapClasses, build_model, save_checkpoint


def test_evaluate_reports_everything_and_times_inference(udd6_root):
    loaders = data.make_loaders("udd6", udd6_root, size=32, batch_size=2, num_workers=0)
    result = metrics.evaluate(build_model("ultra-fast", 4), loaders.test)
    for key in ("miou", "pixel_accuracy", "iou", "precision", "recall", "confusion", "seconds_per_image"):
        assert key in result
    assert result["seconds_per_image"] > 0 and np.array(result["confusion"]).shape == (4, 4)
    table = metrics.compare({"random": result, "baseline": metrics.majority_baseline(np.array(result["confusion"]))},
                            classes.LANDING.names)
    assert "random" in table and "baseline" in table and "Safe" in table


def test_per_image_scores_cover_every_item(udd6_root):
    ds = data.UDD6Dataset(udd6_root, "test", transform=data.eval_transform(32))
    scores = metrics.per_image_scores(build_model("ultra-fast", 4), ds)
    assert [s["index"] for s in scores] == list(range(len(ds))) and all(0 <= s["miou"] <= 1 for s in scores)


def test_remap_classes_sums_probabilities_into_the_target_classes():
    model = build_model("ultra-fast", 6).eval()
    remapped = RemapClasses(model, classes.DRONEDEPLOY_TO_LANDING).eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        p6, p4 = model(x).softmax(1), remapped(x).softmax(1)
    lut = classes.DRONEDEPLOY_TO_LANDING
    for target in range(4):
        expected = p6[:, [i for i in range(6) if lut[i] == target]].sum(1)
        torch.testing.assert_close(p4[:, target], expected, atol=1e-5, rtol=1e-4)
    assert remapped.num_classes == 4


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
