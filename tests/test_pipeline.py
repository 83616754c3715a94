import json

import cv2
import numpy as np
import pytest
import torch

from landinglib import classes, data, devices, pipeline, stages, train
from landinglib.model import build_model, load_checkpoint

from .conftest import DD_BGR


def _fast(tmp_path, **kw):
    return pipeline.PipelineConfig.fast(out=str(tmp_path / "run"), workers=0, progress=False, **kw)


def test_pipeline_runs_stage_0_1_2_and_writes_results(tmp_path, capsys):
    results = pipeline.run(_fast(tmp_path))
    assert [r.stage for r in results] == ["stage 1", "stage 2"]
    assert results[0].class_names == ["Building", "Clutter", "Vegetation", "Water", "Ground", "Car"]
    assert results[1].class_names == ["Background", "Safe", "Caution", "Danger"]
    assert all(0 <= r.test_miou <= 1 for r in results)
    run = tmp_path / "run"
    for name in ("stage0/init.pt", "stage1/best.pt", "stage1/last.pt", "stage2/best.pt", "stage2/last.pt"):
        assert (run / name).is_file(), name
    stage2 = load_checkpoint(run / "stage2" / "best.pt")
    assert stage2["model"]["classifier.weight"].shape[0] == 4 and stage2["class_names"][1] == "Safe"
    saved = json.loads((run / "results.json").read_text())
    assert [s["stage"] for s in saved["stages"]] == ["stage 1", "stage 2"]
    assert saved["stages"][0]["unseen_miou"] is None  # the unseen-style test is a landing test
    assert 0 <= saved["stages"][1]["unseen_miou"] <= 1 and len(saved["stages"][1]["unseen_iou"]) == 4
    out = capsys.readouterr().out
    assert "stage 2 starts from" in out and "new (re-initialised) 2: classifier.weight" in out
    assert "test mIoU" in out and "unseen mIoU" in out
    gap = results[1].test_miou - results[1].unseen_miou
    assert f"robustness gap (test - unseen-style test) = {gap:+.3f}" in out


def test_a_run_resolves_its_device_and_finds_its_stage_0_once(tmp_path, monkeypatch):
    """The device is decided once and every stage trains on it (``TrainConfig.device`` "cpu" or "cuda", not
    "auto"); the stage-0 file is looked for once (checking a shipped file's hash is not free)."""
    calls = {"resolve_device": 0, "stage0_source": 0}

    def counted(name, real):
        def call(*args, **kwargs):
            calls[name] += 1
            return real(*args, **kwargs)
        return call

    class Stop(Exception):
        pass

    def fit(model, train_loader, val_loader, config, **kwargs):
        raise Stop(config)

    for name in calls:
        monkeypatch.setattr(pipeline, name, counted(name, getattr(pipeline, name)))
    monkeypatch.setattr(stages, "stage0_source", pipeline.stage0_source)  # stages.stage0 counts too
    monkeypatch.setattr(pipeline, "fit", fit)
    with pytest.raises(Stop) as stopped:
        pipeline.run(_fast(tmp_path, device="auto"))
    assert stopped.value.args[0].device == str(devices.resolve_device("auto"))
    assert calls == {"resolve_device": 1, "stage0_source": 1}


def test_the_names_of_the_pipeline_parts_are_importable_from_the_pipeline():
    """Notebooks, tests and the README import them as ``landinglib.pipeline.X``."""
    from landinglib import pipeline_config, scoring

    for name in ("PipelineConfig", "EPOCHS", "notebook_config", "stage_config", "stage0", "stage0_source",
                 "stage2_start", "loaders_for", "stage_dataset", "stage_taxonomy", "training_gsd", "score_stage",
                 "held_out_loaders", "earn_safe", "format_table", "StageResult", "load_weights", "save_checkpoint"):
        assert name in pipeline.__all__ and getattr(pipeline, name) is not None, name
    assert pipeline.PipelineConfig is pipeline_config.PipelineConfig and pipeline.stage0 is stages.stage0
    assert pipeline.score_stage is scoring.score_stage


def test_pipeline_can_skip_the_unseen_style_test(tmp_path):
    results = pipeline.run(_fast(tmp_path, unseen=False, epochs1=1, epochs2=1))
    assert results[1].unseen_miou is None and "robustness gap" not in pipeline.format_table(results)


def test_a_stage_leaves_the_model_at_its_best_checkpoint(tmp_path):
    cfg = _fast(tmp_path, epochs1=2)
    model, _ = pipeline.stage0(cfg)
    stage1 = pipeline.train_stage(1, model, cfg)
    best = load_checkpoint(stage1.checkpoint)["model"]
    assert all(torch.equal(tensor.cpu(), best[name]) for name, tensor in model.state_dict().items())


def test_a_resumed_stage_reports_the_time_of_the_whole_stage(tmp_path):
    """After a resume, the table shows the stage's total time, not only the part that ran last."""
    first = pipeline.train_stage(1, pipeline.stage0(_fast(tmp_path, epochs1=1))[0], _fast(tmp_path, epochs1=1))
    cfg = _fast(tmp_path, epochs1=2)
    resumed = pipeline.train_stage(1, pipeline.stage0(cfg)[0], cfg, resume=True)
    history = load_checkpoint(tmp_path / "run" / "stage1" / "last.pt")["history"]
    assert [h["epoch"] for h in history] == [1, 2]
    assert resumed.seconds == pytest.approx(sum(h["epoch_seconds"] for h in history))
    assert resumed.seconds > history[1]["epoch_seconds"] and history[0]["epoch_seconds"] == pytest.approx(first.seconds)


# --- issue 28: class weights from the training split only; a stage reports its best epoch ----------------
def _bands(rows_per_class: dict, w=64) -> np.ndarray:
    """A label of horizontal bands in a stage's classes: ``rows_per_class`` = {class: rows}, top to bottom."""
    return np.concatenate([np.full((rows, w), k, np.uint8) for k, rows in rows_per_class.items()])


def _write_dronedeploy(root, labels: dict):
    """DroneDeploy layout, one 64 x 64 scene (one chip) per split; ``labels``: split -> stage-1 classes."""
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    rows = ["idx scene split"]
    for i, (split, label) in enumerate(labels.items()):
        cv2.imwrite(str(root / "images" / f"s{i}-ortho.tif"), np.full((*label.shape, 3), 40 * i, np.uint8))
        palette = np.array([DD_BGR[k] for k in range(7)], np.uint8)  # label value = class + 1 (0 is IGNORE)
        cv2.imwrite(str(root / "labels" / f"s{i}-label.png"), palette[label + 1])
        rows.append(f"{i} s{i} {split}")
    (root / "index.csv").write_text("\n".join(rows) + "\n")
    return {"dronedeploy": str(root), "chip_size": 64}, {split: 1 for split in labels}


def _write_udd6(root, labels: dict):
    """UDD6 layout: 3 train frames, 4 in the official val folder (our val and test); ``labels``: split -> landing
    classes, written as the UDD6 classes that map onto them (Other, Road, Vegetation, Facade)."""
    to_udd6 = np.array([0, 2, 3, 1], np.uint8)
    assert (classes.UDD6_TO_LANDING[to_udd6] == np.arange(4)).all()
    for folder, n in (("train", 3), ("val", 4)):
        for sub in ("src", "gt"):
            (root / folder / sub).mkdir(parents=True)
        for i in range(n):
            cv2.imwrite(str(root / folder / "src" / f"f{i}.JPG"), np.full((*labels[folder].shape, 3), 40 * i, np.uint8))
            cv2.imwrite(str(root / folder / "gt" / f"f{i}.png"), to_udd6[labels[folder]])
    return {"udd6": str(root)}, {"train": 3, "val": 4}


@pytest.mark.parametrize("stage", [1, 2])
def test_class_weights_are_computed_from_the_training_split_only(stage, tmp_path, monkeypatch):
    """A stage's loss weights are ``data.class_weights`` of the training masks' pixel counts: not of validation or
    test, not of all splits together (here the training masks are mostly one class, the others mostly another)."""
    if stage == 1:  # Ground (4) against Building (0), with Vegetation and Car
        labels = {"train": _bands({4: 29, 0: 10, 2: 5, 5: 4}), "val": _bands({0: 29, 4: 5, 2: 10, 5: 4})}
        labels["test"] = labels["val"]
        settings, frames = _write_dronedeploy(tmp_path / "dd", labels)
    else:  # Background (0) against Safe (1), with Caution and Danger
        labels = {"train": _bands({0: 29, 1: 10, 2: 5, 3: 4}), "val": _bands({1: 29, 0: 5, 2: 10, 3: 4})}
        settings, frames = _write_udd6(tmp_path / "UDD6", labels)
    num_classes = 6 if stage == 1 else 4
    counts = {split: frames[split] * np.bincount(labels[split].ravel(), minlength=num_classes) for split in frames}
    expected = data.class_weights(counts["train"]).tolist()
    for other in (counts["val"], sum(counts.values())):  # the splits do differ
        assert np.abs(np.subtract(expected, data.class_weights(other).tolist())).max() > 0.2

    class Stop(Exception):
        pass

    def fit(model, train_loader, val_loader, config, **kwargs):
        raise Stop(config)

    monkeypatch.setattr(pipeline, "fit", fit)
    with pytest.raises(Stop) as stopped:
        pipeline.train_stage(stage, build_model("ultra-fast", num_classes), _fast(tmp_path, unseen=False, **settings))
    assert stopped.value.args[0].class_weights == pytest.approx(expected, rel=1e-6)


def test_a_stage_reports_the_validation_miou_of_its_best_epoch_not_its_last(tmp_path, monkeypatch):
    """What a stage reports as its validation mIoU (the figure the sweep maximises) is that of its best checkpoint:
    validation scores 0.2, 0.5, 0.3 report 0.5 with epoch 2's validation loss."""
    scores = iter([0.2, 0.5, 0.3])

    def scripted_validation(model, loader, num_classes, **kwargs):
        miou = next(scores)
        return {"pixels": 1, "loss": 1.0 - miou, "miou": miou, "iou": [miou] * num_classes, "pixel_accuracy": miou}

    monkeypatch.setattr(train, "evaluate", scripted_validation)  # fit's validation only: test is scored for real
    labels = {split: _bands({4: 40, 0: 24}) for split in ("train", "val", "test")}
    settings, _ = _write_dronedeploy(tmp_path / "dd", labels)
    cfg = _fast(tmp_path, unseen=False, epochs1=3, probe1=0, **settings)
    result = pipeline.train_stage(1, build_model("ultra-fast", 6), cfg)
    assert (result.epochs, result.val_miou, result.val_loss) == (3, 0.5, pytest.approx(0.5))
    assert load_checkpoint(result.checkpoint)["epoch"] == 2
