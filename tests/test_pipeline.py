import dataclasses
import json

import cv2
import numpy as np
import pytest
import torch

from landinglib import classes, data, devices, evaluation, pipeline, synthetic, train
from landinglib.__main__ import main
from landinglib.model import build_model, load_checkpoint, save_checkpoint

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


def test_stage_config_carries_each_stage_recipe():
    cfg = pipeline.PipelineConfig(out="runs/x", epochs1=3, epochs2=5, lr1=1e-3, lr2=5e-4, seed=7)
    one = pipeline.stage_config(1, cfg, np.array([1.0, 2.0]))
    two = pipeline.stage_config(2, cfg, out_dir="runs/x/direct")
    assert (one.epochs, one.lr, one.seed, one.class_weights) == (3, 1e-3, 7, [1.0, 2.0])
    assert one.out_dir.replace("\\", "/") == "runs/x/stage1"
    assert (two.epochs, two.lr, two.out_dir, two.class_weights) == (5, 5e-4, "runs/x/direct", None)
    with pytest.raises(ValueError, match="stage must be 1 or 2"):
        pipeline.stage_config(3, cfg)


def test_a_stage_probes_its_new_classifier_for_a_third_of_its_epochs_unless_told():
    cfg = pipeline.PipelineConfig(arch="fast")
    assert [pipeline.stage_config(k, cfg).probe_epochs for k in (1, 2)] == [4, 8]  # 12 and 24 epochs
    assert [pipeline.stage_config(k, pipeline.PipelineConfig(arch="ultra-fast")).probe_epochs for k in (1, 2)] == [2, 2]
    assert pipeline.stage_config(2, pipeline.PipelineConfig(epochs2=9, probe2=1)).probe_epochs == 1
    assert pipeline.stage_config(1, pipeline.PipelineConfig(epochs1=9)).probe_epochs == 3
    shorter = dataclasses.replace(cfg, epochs1=2, epochs2=4)  # as a sweep trial shortens the base recipe
    assert [pipeline.stage_config(k, shorter).probe_epochs for k in (1, 2)] == [0, 1]
    for bad in (dict(epochs2=4, probe2=4), dict(epochs1=2, probe1=5), dict(probe1=-1)):
        with pytest.raises(ValueError, match="classifier-only epochs must be fewer"):
            pipeline.PipelineConfig(**bad)


def test_crop_must_fit_the_image_scale():
    assert pipeline.PipelineConfig(size=256, crop=None).crop is None
    for bad in (0, 16, 100, 288):
        with pytest.raises(ValueError, match="multiple of 32 and at most size 256"):
            pipeline.PipelineConfig(size=256, crop=bad)


def test_size_alone_brings_the_default_crop_down_with_it(tmp_path):
    assert main(["train", "--fast", "--out", str(tmp_path / "x"), "--size", "96", "--epochs1", "1", "--epochs2", "1",
                 "--workers", "0"]) == 0
    saved = json.loads((tmp_path / "x" / "results.json").read_text())["config"]
    assert saved["size"] == 96 and saved["crop"] == 96
    assert saved["arch"] == "fast"  # the command's default network is the pipeline's default


def test_epochs_default_per_architecture_and_stay_when_given():
    assert pipeline.PipelineConfig().arch == "fast"  # the default; ultra-fast is the reference the notebooks teach
    assert pipeline.EPOCHS["fast"] == (12, 24) and pipeline.EPOCHS["ultra-fast"] == (6, 8)
    for arch, (e1, e2) in pipeline.EPOCHS.items():
        cfg = pipeline.PipelineConfig(arch=arch)
        assert (cfg.epochs1, cfg.epochs2) == (e1, e2)
    assert pipeline.PipelineConfig(arch="fast", epochs1=3).epochs1 == 3
    assert pipeline.PipelineConfig(arch="fast", epochs2=0).epochs2 == 0
    with pytest.raises(ValueError, match="unknown architecture"):
        pipeline.PipelineConfig(arch="huge")


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


def test_stage_0_loads_given_weights(tmp_path):
    source = build_model("ultra-fast", 4)
    path = save_checkpoint(tmp_path / "init.pt", source)
    model, report = pipeline.stage0(_fast(tmp_path, init=str(path), arch="ultra-fast"))
    assert report.new == ["classifier.weight", "classifier.bias"]
    assert torch.equal(model.backbone[3].weight, source.backbone[3].weight)


def test_train_command_fast(tmp_path, capsys):
    assert main(["train", "--fast", "--out", str(tmp_path / "cli"), "--workers", "0", "--epochs2", "1"]) == 0
    out = capsys.readouterr().out
    assert "stage 1" in out and "stage 2" in out and (tmp_path / "cli" / "results.json").is_file()


def test_train_command_resume_continues_finished_stages(tmp_path, capsys):
    args = ["train", "--fast", "--out", str(tmp_path / "cli"), "--workers", "0"]
    assert main(args) == 0
    capsys.readouterr()
    before = json.loads((tmp_path / "cli" / "results.json").read_text())["stages"]
    best1 = (tmp_path / "cli" / "stage1" / "best.pt").read_bytes()
    assert main(args + ["--resume"]) == 0
    out = capsys.readouterr().out
    assert out.count("resumed from") == 2 and "epoch 1/" not in out  # nothing retrained
    after = json.loads((tmp_path / "cli" / "results.json").read_text())["stages"]
    assert [s["test_miou"] for s in after] == [s["test_miou"] for s in before]
    assert (tmp_path / "cli" / "stage1" / "best.pt").read_bytes() == best1


@pytest.mark.parametrize("args,message", [
    (["--udd6", "/no/such/folder"], "--udd6 /no/such/folder: no such file"),
    (["--init", "/no/such.pt"], "--init /no/such.pt: no such file"),
    (["--size", "100"], "multiple of 32"),
    (["--batch-size", "1"], "at least 2 images"),
    (["--crop", "100"], "--crop 100: training crops must be a multiple of 32"),
    (["--crop", "256"], "at most size 128"),
    (["--crop", "-32"], "--crop -32: training crops must be a multiple of 32"),
])
def test_train_command_reports_bad_arguments(tmp_path, capsys, args, message):
    assert main(["train", "--fast", "--out", str(tmp_path / "x"), *args]) == 2
    assert message in capsys.readouterr().err


def test_train_command_refuses_cuda_without_a_gpu(tmp_path, capsys):
    if torch.cuda.is_available():
        assert devices.resolve_device("cuda").type == "cuda"
        return
    assert main(["train", "--fast", "--out", str(tmp_path / "x"), "--device", "cuda"]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err


def test_train_command_refuses_checkpoint_of_another_architecture(tmp_path, capsys):
    path = save_checkpoint(tmp_path / "other.pt", build_model("ultra-fast", 4))
    state = torch.load(path, weights_only=True)
    state["model_name"] = "accurate"
    torch.save(state, path)
    assert main(["train", "--fast", "--out", str(tmp_path / "x"), "--init", str(path)]) == 2
    assert "architecture 'accurate'" in capsys.readouterr().err


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
