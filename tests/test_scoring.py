import json

import numpy as np
import pytest
import torch

from landinglib import classes, data, evaluation, metrics, scoring, synthetic
from landinglib.model import build_model
from landinglib.pipeline_config import PipelineConfig


def _fast(tmp_path, **kw):
    return PipelineConfig.fast(out=str(tmp_path / "run"), workers=0, progress=False, **kw)


def test_unseen_style_test_scores_the_model_on_every_unseen_frame(tmp_path):
    cfg = _fast(tmp_path)
    loader = data.unseen_style_loader(size=cfg.size, batch_size=2, num_workers=0)
    frames = loader.dataset
    assert len(frames) == synthetic.FAST_SETTINGS["udd6-unseen"]["n_val"]
    assert "udd6-unseen" in str(frames.root) and frames.classes.names[1] == "Safe"
    image, mask = data.unseen_style_dataset(size=None)[0]  # raw arrays, as a photo would be
    assert image.dtype == np.uint8 and image.shape[:2] == mask.shape and set(np.unique(mask)) <= {0, 1, 2, 3, 255}
    model = build_model("ultra-fast", 4)
    result = evaluation.evaluate(model, loader, 4)
    pixels = sum(int((m != 255).sum()) for _, m in loader)
    assert int(sum(sum(row) for row in result["confusion"])) == pixels  # every labelled pixel counted once


def test_stage_2_is_held_out_on_its_test_split_and_the_unseen_style_test_unless_told(tmp_path):
    test_loader = object()
    splits = scoring.held_out_loaders(2, _fast(tmp_path), test_loader)
    assert list(splits) == ["test", "unseen"] and splits["test"] is test_loader
    assert "udd6-unseen" in str(splits["unseen"].dataset.root) and splits["unseen"].batch_size == 4
    assert list(scoring.held_out_loaders(2, _fast(tmp_path, unseen=False), test_loader)) == ["test"]
    assert list(scoring.held_out_loaders(1, _fast(tmp_path), test_loader)) == ["test"]  # a landing test only


def _same(a: dict, b: dict) -> bool:
    """Equal figures, NaN (an undefined figure) equal to NaN."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _frames(n=3, seed=0):
    """Labelled 32 x 32 frames in the landing classes (Caution most common), as a loader gives them."""
    rng = np.random.default_rng(seed)
    masks = torch.from_numpy(rng.choice([0, 1, 2, 2, 2, 3, 255], size=(n, 32, 32))).long()
    return [(torch.from_numpy(rng.normal(size=(n, 3, 32, 32)).astype(np.float32)), masks)]


def test_score_stage_scores_every_split_like_evaluate_and_adds_the_majority_baseline(tmp_path):
    torch.manual_seed(0)
    model = build_model("ultra-fast", 4).eval()
    cfg = _fast(tmp_path)
    splits = {"test": _frames(seed=1), "unseen": _frames(seed=2)}
    scores = scoring.score_stage(model, cfg, 2, splits)
    assert list(scores) == ["test", "unseen", "baseline"]
    for name, loader in splits.items():
        direct = evaluation.evaluate(model, loader, 4, gsd_m=scoring.training_gsd(2, cfg))
        assert scores[name]["confusion"] == direct["confusion"] and _same(scores[name]["landing"], direct["landing"])
    baseline = scores["baseline"]
    assert _same(baseline, metrics.majority_baseline(np.array(scores["test"]["confusion"])))
    assert baseline["iou"][classes.CAUTION] > 0 and baseline["iou"][classes.SAFE] == 0  # Caution everywhere


def test_score_stage_passes_the_decision_rule_and_other_options_to_evaluate(tmp_path):
    model = build_model("ultra-fast", 4).eval()
    cfg = _fast(tmp_path)
    loader = _frames()
    ruled = scoring.score_stage(model, cfg, 2, {"test": loader}, safe_threshold=0.9, per_image=True, gsd_m=0.05)
    direct = evaluation.evaluate(model, loader, 4, safe_threshold=0.9, per_image=True, gsd_m=0.05)
    assert _same(ruled["test"]["landing"], direct["landing"]) and ruled["test"]["landing"]["safe_threshold"] == 0.9
    assert ruled["test"]["per_image"] == direct["per_image"]


def test_score_stage_scores_stage_1_in_its_own_classes_without_landing_figures(tmp_path):
    model = build_model("ultra-fast", 6).eval()
    masks = torch.from_numpy(np.random.default_rng(0).integers(0, 6, size=(2, 32, 32))).long()
    scores = scoring.score_stage(model, _fast(tmp_path), 1, {"test": [(torch.randn(2, 3, 32, 32), masks)]})
    assert len(scores["test"]["iou"]) == 6 and "landing" not in scores["test"]
    with pytest.raises(ValueError, match="need a landing model"):
        scoring.score_stage(model, _fast(tmp_path), 1, {"test": [(torch.randn(2, 3, 32, 32), masks)]},
                            safe_threshold=0.5)


def test_landing_summary_is_miou_and_the_landing_figures():
    result = {"miou": 0.5, "iou": [0.5], "landing": {"false_safe_rate": 0.1, "frames": 2}}
    assert scoring.landing_summary(result) == {"miou": 0.5, "false_safe_rate": 0.1, "frames": 2}
