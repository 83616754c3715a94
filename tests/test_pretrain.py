"""Stage 0: ``landinglib pretrain`` end to end (one process, and two under torchrun), and the shipped files."""
import json

import pytest
import torch

from landinglib import classes, pipeline, pretrain, pretrain_world
from landinglib.__main__ import main
from landinglib.model import build_model, load_checkpoint

from .conftest import error_message


def test_the_names_of_the_world_are_still_importable_from_pretrain():
    assert pretrain.write_shards is pretrain_world.write_shards and pretrain.ShardDataset is pretrain_world.ShardDataset
    assert pretrain.render_frame is pretrain_world.render_frame and pretrain.SPLIT_IDS is pretrain_world.SPLIT_IDS
    assert all(hasattr(pretrain, name) for name in pretrain.__all__)


def test_pretrain_runs_end_to_end_and_ships_a_checked_file(tmp_path, capsys, monkeypatch):
    out, shipped = tmp_path / "run", tmp_path / "pretrained" / "stage0-fast.pt"
    resolved = []
    monkeypatch.setattr(pretrain, "resolve_device", lambda name: resolved.append(name) or torch.device("cpu"))
    assert main(["pretrain", "--fast", "--out", str(out), "--shards", str(tmp_path / "shards"), "--workers", "0",
                 "--ship", str(shipped)]) == 0
    assert (out / "best.pt").is_file() and (out / "last.pt").is_file()
    assert resolved == ["auto"]  # once per run; both phases train, and the result is scored, where it said
    assert load_checkpoint(out / "finish" / "best.pt")["config"]["device"] == "cpu"
    assert json.loads((out / "pretrain.json").read_text())["config"]["device"] == "auto"  # the recipe as given
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
