"""Safe must be earned: the landing-aware figures, the decision rule, the threshold chosen on validation."""
import json

import numpy as np
import pytest
import torch

from landinglib import classes, evaluation, pipeline, predict_folder, safety
from landinglib.__main__ import main
from landinglib.model import build_model, load_checkpoint, load_model, save_checkpoint
from landinglib.safety import BACKGROUND, CAUTION, DANGER, SAFE, SafeCurve, landing_figures, landing_mask

from .conftest import SafeFromRedChannel, error_message


def _probs(*columns):
    """(4, 1, n) probabilities, one column per pixel: each argument is (P(Background), P(Safe), P(Caution), P(Danger))."""
    return np.array(columns, np.float32).T[:, None, :]


def test_a_model_60_percent_sure_of_safe_on_a_facade_is_not_called_safe_under_a_threshold_of_0_7():
    facade = _probs((0.0, 0.6, 0.1, 0.3))
    assert landing_mask(facade, None)[0, 0] == SAFE  # the plain argmax calls it Safe
    assert landing_mask(facade, 0.7)[0, 0] == DANGER  # the rule does not: it gets the most likely other class
    assert landing_mask(facade, 0.6)[0, 0] == SAFE  # exactly as sure as the threshold is enough


def test_the_rule_only_takes_safe_away_and_gives_the_most_likely_of_the_other_classes():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=(32, 48)).transpose(2, 0, 1).astype(np.float32)
    argmax = probs.argmax(0)
    for threshold in (0.0, 0.3, 0.5, 0.8, 1.0):
        mask = landing_mask(probs, threshold)
        assert mask.dtype == np.uint8 and mask.shape == (32, 48)
        assert np.array_equal(mask == SAFE, (argmax == SAFE) & (probs[SAFE] >= threshold))
        others = np.where(np.arange(4)[:, None, None] == SAFE, -1, probs).argmax(0)
        demoted = (argmax == SAFE) & (mask != SAFE)
        assert np.array_equal(mask[demoted], others[demoted])
        assert np.array_equal(mask[argmax != SAFE], argmax[argmax != SAFE])
    assert np.array_equal(landing_mask(probs, None), argmax)


def test_the_rule_gives_the_same_mask_for_tensors_batches_and_arrays():
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(4), size=(2, 8, 8)).transpose(0, 3, 1, 2).astype(np.float32)
    batch = landing_mask(torch.from_numpy(probs), 0.55)
    assert batch.dtype == torch.int64 and batch.shape == (2, 8, 8)
    for k in range(2):
        assert np.array_equal(batch[k].numpy(), landing_mask(probs[k], 0.55))
    assert "Safe channel" in error_message(lambda: landing_mask(np.zeros((1, 4, 4), np.float32), 0.5), ValueError)


def test_landing_figures_on_a_hand_made_confusion_matrix():
    m = np.array([[50, 10, 0, 0],    # Background: 10 called Safe (not counted as false-safe)
                  [5, 80, 10, 5],    # Safe: 80 of 100 found
                  [0, 6, 90, 4],     # Caution: 6 of 100 called Safe
                  [0, 4, 16, 30]])   # Danger: 4 of 50 called Safe
    f = landing_figures(m)
    assert f["false_safe_rate"] == pytest.approx(10 / 150)
    assert f["danger_to_safe"] == pytest.approx(4 / 50)
    assert f["safe_precision"] == pytest.approx(80 / 100)
    assert f["safe_recall"] == pytest.approx(80 / 100)
    empty = landing_figures(np.diag([5, 5, 0, 0]))
    assert np.isnan(empty["false_safe_rate"]) and np.isnan(empty["danger_to_safe"]) and empty["safe_recall"] == 1.0
    assert "4 x 4" in error_message(lambda: landing_figures(np.eye(6)), ValueError)


def _random_split(seed, n=3, shape=(16, 20)):
    rng = np.random.default_rng(seed)
    probs = torch.from_numpy(rng.dirichlet([1, 3, 1, 1], size=(n, *shape)).transpose(0, 3, 1, 2).astype(np.float32))
    truth = torch.from_numpy(rng.integers(0, 4, (n, *shape)))
    truth[:, 0] = 255  # an ignored row
    return probs, truth


def _confusion(probs, truth, threshold):
    m = np.zeros((4, 4), np.int64)
    pred = landing_mask(probs, threshold)
    keep = truth != 255
    np.add.at(m, (truth[keep].numpy(), pred[keep].numpy()), 1)
    return m


def test_the_curve_gives_the_figures_of_the_rule_at_every_threshold():
    probs, truth = _random_split(2)
    curve = SafeCurve()
    curve.update(probs[:2], truth[:2])
    curve.update(probs[2:], truth[2:])
    for threshold in (None, 0.0, 0.25, 0.5, 0.617, 0.9, 1.0):
        got, want = curve.at(threshold), landing_figures(_confusion(probs, truth, threshold))
        for name in safety.FIGURES:
            assert got[name] == pytest.approx(want[name], nan_ok=True), (threshold, name)
    points = curve.points()
    k = 617
    assert points["threshold"][k] == pytest.approx(0.617)
    assert points["false_safe_rate"][k] == pytest.approx(curve.at(0.617)["false_safe_rate"])
    assert np.all(np.diff(points["false_safe_rate"]) <= 0) and np.all(np.diff(points["safe_recall"]) <= 0)


def test_the_threshold_is_the_smallest_that_keeps_both_error_shares_within_the_budget():
    probs, truth = _random_split(3, n=4)
    curve = SafeCurve()
    curve.update(probs, truth)
    for budget in (0.0, 0.02, 0.1, 0.3, 1.0):
        tau = curve.threshold_for(budget)
        at = landing_figures(_confusion(probs, truth, tau))
        assert at["false_safe_rate"] <= budget + 1e-12 and at["danger_to_safe"] <= budget + 1e-12
        if tau > 0:  # one step lower breaks the budget on one of the two shares
            below = landing_figures(_confusion(probs, truth, tau - 1 / curve.bins))
            assert below["false_safe_rate"] > budget or below["danger_to_safe"] > budget
    assert curve.threshold_for(1.0) == 0.0  # a budget the argmax keeps needs no threshold
    assert "[0, 1]" in error_message(lambda: curve.threshold_for(1.5), ValueError)
    assert "no labelled pixel" in error_message(lambda: SafeCurve().threshold_for(0.02), ValueError)


def test_danger_called_safe_also_binds_the_threshold():
    # many Caution pixels that the model never calls Safe dilute the false-safe rate; the Danger share does not
    probs = torch.tensor(_probs(*[(0, 0.2, 0.8, 0)] * 98, (0, 0.9052, 0, 0.0948), (0, 0.7, 0, 0.3), (0, 0.95, 0, 0.05),
                                (0, 0.95, 0, 0.05)))[None]
    truth = torch.tensor([[[CAUTION] * 98 + [DANGER, DANGER, SAFE, SAFE]]])
    curve = SafeCurve()
    curve.update(probs, truth)
    assert curve.at(0.0)["false_safe_rate"] == pytest.approx(0.02)  # within a 2 % budget already...
    assert curve.at(0.0)["danger_to_safe"] == 1.0  # ...but every Danger pixel is called Safe
    assert curve.threshold_for(0.02) == pytest.approx(0.906)  # just above the surest Danger pixel's 0.9052


def test_a_site_is_on_safe_ground_only_when_its_whole_footprint_is():
    truth = np.full((40, 40), SAFE, np.uint8)
    truth[:, 30:] = DANGER
    truth[:5] = 255
    assert safety.site_on_safe_ground(truth, (15, 20), 5)
    assert not safety.site_on_safe_ground(truth, (25, 20), 5)  # the disk reaches x = 30
    assert safety.site_on_safe_ground(truth, (10, 2), 4)  # the ignored rows are not counted against it
    assert not safety.site_on_safe_ground(np.full((9, 9), 255, np.uint8), (4, 4), 2)  # nothing to check it on


def _frames(p_safe_of_danger, p_safe_of_safe=0.99, n=2, size=(24, 24)):
    """A loader of frames: the left half truly Safe, the right half Danger, with the given P(Safe)."""
    logit = lambda p: float(np.log(p / (1 - p)))  # noqa: E731
    images = torch.zeros(n, 3, *size)
    images[:, 0, :, : size[1] // 2] = logit(p_safe_of_safe)
    images[:, 0, :, size[1] // 2:] = logit(p_safe_of_danger)
    masks = torch.full((n, *size), DANGER, dtype=torch.long)
    masks[:, :, : size[1] // 2] = SAFE
    return [(images, masks)]


def test_evaluate_scores_a_landing_model_under_its_rule_with_its_best_sites():
    model = SafeFromRedChannel()
    loader = _frames(p_safe_of_danger=0.8)
    plain = evaluation.evaluate(model, loader, gsd_m=0.5, drone_radius_m=0.5)
    assert plain["landing"]["false_safe_rate"] == 1.0 and plain["landing"]["safe_threshold"] is None
    assert plain["landing"]["frames"] == 2 and plain["landing"]["frames_with_site"] == 2
    ruled = evaluation.evaluate(model, loader, safe_threshold=0.9, gsd_m=0.5, drone_radius_m=0.5)
    lf = ruled["landing"]
    assert lf["false_safe_rate"] == 0.0 and lf["safe_recall"] == 1.0 and lf["safe_threshold"] == 0.9
    assert lf == {**landing_figures(ruled["confusion"]), **{k: lf[k] for k in lf if k not in safety.FIGURES}}
    assert lf["sites_on_safe"] == 2 and lf["best_site_on_safe"] == 1.0
    assert ruled["miou"] == 1.0
    not_landing = evaluation.evaluate(model, loader, landing=False)
    assert "landing" not in not_landing
    assert "landing model" in error_message(lambda: evaluation.evaluate(model, loader, landing=False, safe_threshold=0.5),
                                            ValueError)


def test_a_best_site_on_danger_counts_against_the_model():
    model = SafeFromRedChannel()
    images, masks = _frames(p_safe_of_danger=0.8, p_safe_of_safe=0.3)[0]
    result = evaluation.evaluate(model, [(images, masks)], gsd_m=0.5, drone_radius_m=0.5)["landing"]
    assert result["frames_with_site"] == 2 and result["sites_on_safe"] == 0 and result["best_site_on_safe"] == 0.0


def test_the_threshold_comes_from_validation_never_from_test(tmp_path):
    model = SafeFromRedChannel()
    checkpoint = save_checkpoint(tmp_path / "best.pt", model, class_names=classes.LANDING.names)
    val = _frames(p_safe_of_danger=0.7)  # validation asks for a threshold just above 0.7
    test = _frames(p_safe_of_danger=0.95)  # the test split would ask for one above 0.95

    class Recording(list):
        def __iter__(self):
            reads.append(self.name)
            return super().__iter__()

    reads = []
    val_loader, test_loader = Recording(val), Recording(test)
    val_loader.name, test_loader.name = "val", "test"
    cfg = pipeline.PipelineConfig(out=str(tmp_path), false_safe_budget=0.0)
    report = pipeline.earn_safe(model, val_loader, {"test": test_loader}, cfg, checkpoint, torch.device("cpu"))
    chosen = report["threshold"]
    assert 0.7 < chosen <= 0.702  # the smallest step above validation's danger, far below test's 0.95
    assert reads.index("test") > max(i for i, name in enumerate(reads) if name == "val")  # test is read after choosing
    assert report["test"]["rule"]["false_safe_rate"] == 1.0  # test is only reported: here the rule fails on it
    assert load_checkpoint(checkpoint)["safety"]["threshold"] == chosen and model.safe_threshold == chosen


def test_an_old_checkpoint_without_a_threshold_predicts_as_before(tmp_path):
    from .test_predict_folder import _photo

    import cv2

    net = build_model("ultra-fast", 4)
    old = tmp_path / "old.pt"
    save_checkpoint(old, net)
    state = load_checkpoint(old)
    state.pop("safety")  # written before the rule existed
    torch.save(state, old)
    model = load_model(old, classes.LANDING)
    assert model.safe_threshold is None
    cv2.imwrite(str(tmp_path / "a.png"), _photo(64, 96))
    predict_folder.predict_file(model, tmp_path / "a.png", tmp_path, "a")
    from PIL import Image

    from landinglib.inference import predict_bounded

    probs = predict_bounded(model, tmp_path / "a.png").full_mask()
    assert np.array_equal(np.array(Image.open(tmp_path / "a_mask.png")), probs)
    assert json.loads((tmp_path / "a_sites.json").read_text())["safe_threshold"] is None


def _constant_landing_model(probs=(0.1, 0.6, 0.1, 0.2)):
    """A real network (ultra-fast) whose classifier ignores its input: the same probabilities everywhere."""
    net = build_model("ultra-fast", 4)
    with torch.no_grad():
        net.classifier.weight.zero_()
        net.classifier.bias.copy_(torch.tensor(probs).log())
    return net


def test_predict_applies_the_checkpoint_threshold_and_a_threshold_given_on_the_command_line(tmp_path):
    from PIL import Image

    from .test_predict_folder import _flight

    flight = _flight(tmp_path / "flight", 1)
    ckpt = save_checkpoint(tmp_path / "m.pt", _constant_landing_model(), safety={"threshold": 0.9, "budget": 0.02})
    assert load_model(ckpt, classes.LANDING).safe_threshold == 0.9
    out = {}
    for name, extra in (("stored", []), ("given", ["--safe-threshold", "0.5"])):
        assert main(["predict", str(flight), "--checkpoint", str(ckpt), "--out", str(tmp_path / name), *extra]) == 0
        out[name] = np.array(Image.open(tmp_path / name / "frame00_mask.png"))
        assert json.loads((tmp_path / name / "frame00_sites.json").read_text())["safe_threshold"] == (
            0.9 if name == "stored" else 0.5)
    assert (out["stored"] == DANGER).all()  # 60 % sure is not enough for 0.9: the next most likely class, Danger
    assert (out["given"] == SAFE).all()  # and enough for 0.5
    assert main(["predict", str(flight), "--checkpoint", str(ckpt), "--out", str(tmp_path / "x"),
                 "--safe-threshold", "1.5"]) == 2


def test_the_pipeline_chooses_writes_and_prints_the_threshold_and_the_landing_figures(tmp_path, capsys):
    cfg = pipeline.PipelineConfig.fast(out=str(tmp_path / "run"), workers=0, progress=False)
    results = pipeline.run(cfg)
    landing = results[1].landing
    assert results[0].landing is None and set(landing) == {"threshold", "budget", "val", "test", "unseen"}
    assert landing["budget"] == safety.FALSE_SAFE_BUDGET and 0.0 <= landing["threshold"] <= 1.0
    for split in ("val", "test", "unseen"):
        for kind in ("argmax", "rule"):
            figures = landing[split][kind]
            assert set(safety.FIGURES) <= set(figures) and figures["frames"] > 0
            assert figures["safe_threshold"] == (None if kind == "argmax" else landing["threshold"])
    for name in ("false_safe_rate", "danger_to_safe"):  # within the budget where it was chosen
        assert landing["val"]["rule"][name] <= landing["budget"] + 1e-3 or landing["val"]["rule"][name] != landing["val"]["rule"][name]
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert saved["stages"][1]["landing"]["threshold"] == landing["threshold"]
    assert load_model(tmp_path / "run" / "stage2" / "best.pt").safe_threshold == landing["threshold"]
    out = capsys.readouterr().out
    assert f"Safe needs P(Safe) >= {landing['threshold']:.3f}, chosen on validation" in out and "false-safe" in out


def test_evaluate_command_prints_the_landing_figures_and_can_choose_a_threshold(udd6_root, tmp_path, capsys):
    ckpt = save_checkpoint(tmp_path / "m.pt", _constant_landing_model(), safety={"threshold": 0.9, "budget": 0.02})
    base = ["evaluate", "--checkpoint", str(ckpt), "--udd6", str(udd6_root), "--size", "32"]
    assert main(base) == 0
    out = capsys.readouterr().out
    assert "model (Safe >= 0.900)" in out and "Safe needs P(Safe) >= 0.900, chosen on validation for a false-safe budget of 2.0 %" in out
    assert "false-safe" in out and "best site on Safe ground" in out
    assert main(base + ["--false-safe-budget", "1.0"]) == 0  # any share of false-safe pixels is allowed: no threshold needed
    assert "Safe needs P(Safe) >= 0.000" in capsys.readouterr().out


def test_an_exported_model_carries_its_threshold(tmp_path):
    from landinglib import export

    model = _constant_landing_model()
    model.safe_threshold = 0.73
    report = export.to_onnx(model, tmp_path / "m.onnx", size=64, check=False)
    assert report["safe_threshold"] == 0.73 and export.metadata(tmp_path / "m.onnx")["safe_threshold"] == "0.73"
    model.safe_threshold = None
    export.to_onnx(model, tmp_path / "plain.onnx", size=64, check=False)
    assert "safe_threshold" not in export.metadata(tmp_path / "plain.onnx")

