"""Stage 0's run: ``landinglib pretrain`` end to end (one process, and two under torchrun), shipping its result."""
import json

import torch

from landinglib import classes, pipeline, pretrain, pretrain_shipping, pretrain_world
from landinglib.__main__ import main
from landinglib.model import build_model, load_checkpoint


def test_the_names_the_course_imports_from_pretrain_still_resolve():
    """Notebooks, the benchmark, the command and the pipeline import these from ``landinglib.pretrain``."""
    assert pretrain.shipped_stage0 is pretrain_shipping.shipped_stage0 and pretrain.ship is pretrain_shipping.ship
    assert pretrain.verify_shipped is pretrain_shipping.verify_shipped
    assert pretrain.shipped_path is pretrain_shipping.shipped_path
    assert pretrain.write_shards is pretrain_world.write_shards and pretrain.ShardDataset is pretrain_world.ShardDataset
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
