import json

import pytest
import torch

from landinglib import classes, data, devices, synthetic
from landinglib.__main__ import main
from landinglib.model import build_model, save_checkpoint


def test_data_command_prints_what_it_generated(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LANDINGLIB_DATA", str(tmp_path))
    monkeypatch.setitem(synthetic.FAST_SETTINGS, "udd6", dict(n_train=2, n_val=2, size=(64, 128)))
    monkeypatch.setitem(synthetic.FAST_SETTINGS, "dronedeploy", dict(n_scenes=4, size=(300, 300)))
    assert main(["data", "--fast", "--chip-size", "128"]) == 0
    out = capsys.readouterr().out
    assert "generated built-in dronedeploy data" in out and "generated built-in udd6 data" in out
    assert "udd6         train       2  frames" in out
    assert "landing class" in out


def test_data_command_reports_errors_without_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(synthetic, "ensure_builtin", lambda *a, **k: tmp_path / "missing")
    assert main(["data"]) == 2
    assert "error:" in capsys.readouterr().err


# --- landinglib train -----------------------------------------------------------------------------------
def test_size_alone_brings_the_default_crop_down_with_it(tmp_path):
    assert main(["train", "--fast", "--out", str(tmp_path / "x"), "--size", "96", "--epochs1", "1", "--epochs2", "1",
                 "--workers", "0"]) == 0
    saved = json.loads((tmp_path / "x" / "results.json").read_text())["config"]
    assert saved["size"] == 96 and saved["crop"] == 96
    assert saved["arch"] == "fast"  # the command's default network is the pipeline's default


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


# --- your data through the pipeline ---------------------------------------------------------------
def test_train_command_runs_stage_2_on_your_own_folder_and_stage_1_on_your_own_classes(tmp_path, capsys):
    from landinglib.model import load_checkpoint

    own = synthetic.write_semantic_drone_layout(tmp_path / "semantic_drone_dataset", n=16, size=(120, 160))
    out = tmp_path / "run"
    assert main(["train", "--fast", "--stage2-data", str(own), "--classes", str(data.SEMANTIC_DRONE_CLASSES),
                 "--stage1-data", str(own), "--stage1-classes", str(data.SEMANTIC_DRONE_CLASSES),
                 "--out", str(out), "--size", "64"]) == 0
    results = json.loads((out / "results.json").read_text())
    stage1, stage2 = results["stages"]
    assert len(stage1["class_names"]) == 24 and stage1["class_names"][1] == "paved-area"
    assert stage2["class_names"] == list(classes.LANDING.names)
    assert load_checkpoint(out / "stage2" / "best.pt")["config"]["gsd_m"] is None  # your data: GSD unknown
    capsys.readouterr()
    assert main(["train", "--fast", "--stage2-data", str(own), "--out", str(out)]) == 2
    assert "needs its class file" in capsys.readouterr().err
