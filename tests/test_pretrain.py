"""Stage 0: the pretraining world, its shards, the run end to end, and the shipped files."""
import json

import numpy as np
import pytest
import torch

from landinglib import classes, pipeline, pretrain, synthetic
from landinglib.__main__ import main
from landinglib.model import build_model, load_checkpoint
from landinglib.synthetic import styles

from .conftest import error_message


def test_pretraining_seeds_never_meet_the_course_sets():
    # the course draws its built-in sets with (seed, style id, index), seed 0 (ensure_builtin); the stand-in of
    # notebook 07 with (0, len(STYLES), index)
    course_first = {0}
    for (kind, split), second in pretrain.SPLIT_IDS.items():
        seed = pretrain.frame_seed(kind, split, 7)
        assert seed[0] == pretrain.PRETRAIN_SEED and seed[0] not in course_first
        assert seed == (pretrain.PRETRAIN_SEED, second, 7)
    assert len(set(pretrain.SPLIT_IDS.values())) == len(pretrain.SPLIT_IDS)  # train and held-out streams differ
    first = pretrain.render_frame(("drone", "train", 0))[0]
    course = synthetic.render_scene(synthetic.UDD6_STYLE, (0, list(synthetic.STYLES).index("udd6"), 0))[0]
    assert first.shape[0] == pretrain.SHORT_SIDE and not np.array_equal(first[:64, :64], course[:64, :64])


def test_pretraining_never_draws_the_unseen_style_families(monkeypatch):
    for style, _ in pretrain.KINDS.values():
        assert not set(style.pavements) & set(styles.UNSEEN_PAVEMENTS)
        assert not set(style.flat_roofs) & set(styles.UNSEEN_FLAT_ROOFS)
        assert not set(style.lightings) & set(styles.UNSEEN_LIGHTINGS)
        assert style.unseen_roof_p == 0 and style.lens_k1 == (0.0, 0.0)
    pretrain.check_held_out()
    leaky = dict(pretrain.KINDS, drone=(synthetic.UDD6_UNSEEN_STYLE, None))
    monkeypatch.setattr(pretrain, "KINDS", leaky)
    assert "unseen-style" in error_message(pretrain.check_held_out, ValueError)


def test_a_frame_is_labelled_with_the_aerial_classes_at_the_stages_scale():
    image, label = pretrain.render_frame(("drone", "val", 3))
    assert image.dtype == np.uint8 and image.shape[:2] == label.shape and min(label.shape) == pretrain.SHORT_SIDE
    assert set(np.unique(label)) <= set(range(len(classes.AERIAL))) | {255}
    tile, tile_label = pretrain.render_frame(("ortho", "train", 1))
    assert tile.shape[:2] == (pretrain.SHORT_SIDE, pretrain.SHORT_SIDE)
    assert classes.AERIAL.names.index("Sky") not in np.unique(tile_label)  # an orthomosaic shows no sky
    assert (styles.SEMANTIC_TO_AERIAL[[styles.ROAD, styles.ROOF, styles.FACADE, styles.SKY, styles.NODATA]]
            == [3, 4, 5, 9, 255]).all()


def test_shards_are_drawn_once_resume_and_grow(tmp_path, monkeypatch):
    monkeypatch.setattr(pretrain, "SHARD_FRAMES", 3)
    calls = []
    real = pretrain.render_frame

    def counting(job):
        calls.append(job)
        return real(job)

    monkeypatch.setattr(pretrain, "render_frame", counting)
    folder = pretrain.write_shards(tmp_path, "ortho", "train", 4, workers=1, progress=False)
    assert len(calls) == 4 and sorted(p.name for p in folder.glob("*.npy"))[:2] == ["shard-0000-images.npy",
                                                                                   "shard-0000-labels.npy"]
    first = np.load(folder / "shard-0000-images.npy")
    pretrain.write_shards(tmp_path, "ortho", "train", 4, workers=1, progress=False)
    assert len(calls) == 4  # nothing drawn twice
    pretrain.write_shards(tmp_path, "ortho", "train", 6, workers=1, progress=False)
    assert [c[2] for c in calls[4:]] == [3, 4, 5]  # the short last shard is completed, nothing else redrawn
    assert np.array_equal(np.load(folder / "shard-0000-images.npy"), first)
    (folder / "shard-0001-labels.npy").unlink()  # as a run killed while writing shard 1 leaves it
    pretrain.write_shards(tmp_path, "ortho", "train", 6, workers=1, progress=False)
    assert [c[2] for c in calls[7:]] == [3, 4, 5]
    data = pretrain.ShardDataset([(folder, 5)])
    assert len(data) == 5 and data.classes is classes.AERIAL
    image, mask = data[4]
    assert np.array_equal(image, real(("ortho", "train", 4))[0]) and mask.shape == image.shape[:2]


def test_two_runs_sharing_one_frame_cache_draw_each_frame_once(tmp_path, monkeypatch):
    """Two pretraining runs started at once on one cache (the scaling benchmark and a shipping run): one
    draws under the cache's lock, the other waits and finds the shards whole."""
    import threading
    import time

    calls = []
    real = pretrain.render_frame

    def slow(job):
        calls.append(job)
        time.sleep(0.05)  # long enough for the second run to arrive while the first draws
        return real(job)

    monkeypatch.setattr(pretrain, "render_frame", slow)
    runs = [threading.Thread(target=pretrain.write_shards, args=(tmp_path, "ortho", "val", 3),
                             kwargs=dict(workers=1, progress=False)) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    assert sorted(c[2] for c in calls) == [0, 1, 2]
    assert len(pretrain.ShardDataset([(tmp_path / "val-ortho", 3)], split="val")) == 3


def test_pretrain_runs_end_to_end_and_ships_a_checked_file(tmp_path, capsys):
    out, shipped = tmp_path / "run", tmp_path / "pretrained" / "stage0-fast.pt"
    assert main(["pretrain", "--fast", "--out", str(out), "--shards", str(tmp_path / "shards"), "--workers", "0",
                 "--ship", str(shipped)]) == 0
    assert (out / "best.pt").is_file() and (out / "last.pt").is_file()
    card = json.loads(shipped.with_suffix(".json").read_text())
    assert card["sha256"] == pretrain.sha256(shipped) and card["classes"] == list(classes.AERIAL.names)
    for key in ("command", "commit", "machine", "train_seconds", "draw_seconds", "frames", "seeds", "epochs", "held_out"):
        assert key in card, key
    assert card["frames"]["train"]["ortho"] > 0 and "miou" in card["held_out"]
    state = load_checkpoint(shipped)
    assert state["optimizer"] is None and state["model_name"] == "fast" and state["num_classes"] == len(classes.AERIAL)
    assert shipped.stat().st_size < 2_000_000
    assert "shipped" in capsys.readouterr().out
    # the pipeline starts from it, with a fresh classifier for stage 1's six classes
    assert pretrain.shipped_stage0("fast", shipped.parent) == shipped
    model = build_model("fast", 6)
    assert pipeline.load_weights(model, shipped).new == ["classifier.weight", "classifier.bias"]


def test_a_corrupted_or_swapped_stage0_is_refused(tmp_path):
    shipped = tmp_path / "stage0-fast.pt"
    pipeline.save_checkpoint(shipped, build_model("fast", len(classes.AERIAL)))
    assert "no card" in error_message(lambda: pretrain.shipped_stage0("fast", tmp_path), pretrain.CorruptStage0Error)
    shipped.with_suffix(".json").write_text(json.dumps({"sha256": pretrain.sha256(shipped)}))
    assert pretrain.shipped_stage0("fast", tmp_path) == shipped
    blob = bytearray(shipped.read_bytes())
    blob[len(blob) // 2] ^= 0xFF  # one flipped byte
    shipped.write_bytes(bytes(blob))
    message = error_message(lambda: pretrain.shipped_stage0("fast", tmp_path), pretrain.CorruptStage0Error)
    assert "corrupted or was swapped" in message and "--init none" in message
    assert pretrain.shipped_stage0("ultra-fast", tmp_path) is None  # nothing shipped for it here


def test_the_stage0_message_names_files_relative_to_the_working_folder(tmp_path, monkeypatch, capsys):
    """A notebook's output must not carry the absolute path of whoever ran it last."""
    (tmp_path / "pretrained").mkdir()
    (tmp_path / "notebooks").mkdir()
    monkeypatch.setenv("LANDINGLIB_PRETRAINED", str(tmp_path / "pretrained"))
    monkeypatch.chdir(tmp_path / "notebooks")
    net = build_model("fast", len(classes.AERIAL))
    shipped = pipeline.save_checkpoint(tmp_path / "pretrained" / "stage0-fast.pt", net)
    shipped.with_suffix(".json").write_text(json.dumps({"sha256": pretrain.sha256(shipped)}))
    pipeline.stage0(pipeline.PipelineConfig(arch="fast"))
    pipeline.stage0(pipeline.PipelineConfig(arch="accurate"))  # no Cityscapes file: random weights, and where it looked
    out = capsys.readouterr().out
    assert "stage 0: weights from ../pretrained/stage0-fast.pt:" in out
    assert "there is no ../pretrained/bisenetv2_city.pth" in out and str(tmp_path) not in out


def test_the_pipeline_starts_from_the_shipped_stage0_unless_told_otherwise(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LANDINGLIB_PRETRAINED", str(tmp_path))
    net = build_model("fast", len(classes.AERIAL))
    with torch.no_grad():
        net.stem[0][0].weight.fill_(0.125)  # a weight random initialisation never gives
    shipped = pipeline.save_checkpoint(tmp_path / "stage0-fast.pt", net)
    shipped.with_suffix(".json").write_text(json.dumps({"sha256": pretrain.sha256(shipped)}))
    cfg = pipeline.PipelineConfig(arch="fast", out=str(tmp_path / "run"))
    assert pipeline.stage0_source(cfg) == str(shipped)
    model, report = pipeline.stage0(cfg)
    assert torch.all(model.stem[0][0].weight == 0.125) and report.new == ["classifier.weight", "classifier.bias"]
    assert "stage 0: weights from" in capsys.readouterr().out
    random_start, _ = pipeline.stage0(pipeline.PipelineConfig(arch="fast", init="none"))
    assert not torch.all(random_start.stem[0][0].weight == 0.125)
    assert "--init none" in capsys.readouterr().out
    assert pipeline.stage0_source(pipeline.PipelineConfig(arch="ultra-fast")) is None  # not shipped here: random
    shipped.write_bytes(shipped.read_bytes()[:-10])
    with pytest.raises(pretrain.CorruptStage0Error):
        pipeline.stage0(cfg)


def test_the_shipped_stage0_files_load_on_a_fresh_clone():
    """What the course commits: each shipped file matches its card and loads with weights_only."""
    from landinglib.runtime import PACKAGE_DIR

    folder = PACKAGE_DIR.parent / "data" / "pretrained"
    shipped = sorted(folder.glob("stage0-*.pt"))
    assert {p.stem for p in shipped} >= {"stage0-fast", "stage0-ultra-fast"}
    for path in shipped:
        card = pretrain.verify_shipped(path)
        arch = path.stem.removeprefix("stage0-")
        model = build_model(arch, len(classes.AERIAL))
        model.load_state_dict(load_checkpoint(path)["model"])
        assert card["classes"] == list(classes.AERIAL.names) and path.stat().st_size <= 2_000_000
        assert card["frames"]["train"]["drone"] + card["frames"]["train"]["ortho"] >= 20 * 141  # 20x the course's UDD6 frames


def test_two_gloo_processes_pretrain_under_torchrun(tmp_path):
    """The multi-GPU / multi-machine path, on the CPU: torchrun starts two processes; rank 0 draws the frames,
    both train their share, only rank 0 prints and writes."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "LANDINGLIB_FAST": "1", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "landinglib",
           "pretrain", "--fast", "--device", "cpu", "--workers", "0", "--shards", str(tmp_path / "shards"),
           "--out", str(tmp_path / "run")]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.count("stage 0 held-out mIoU") == 1 and (tmp_path / "run" / "best.pt").is_file()
    assert json.loads((tmp_path / "run" / "pretrain.json").read_text())["frames"]["train"]["drone"] > 0
