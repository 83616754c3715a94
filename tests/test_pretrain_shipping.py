"""Stage 0, shipped: the committed files, their cards, and the pipeline that starts from them."""
import json

import pytest
import torch

from landinglib import classes, pipeline, pretrain_shipping
from landinglib.model import build_model, load_checkpoint

from .conftest import error_message


def test_a_corrupted_or_swapped_stage0_is_refused(tmp_path):
    shipped = tmp_path / "stage0-fast.pt"
    pipeline.save_checkpoint(shipped, build_model("fast", len(classes.AERIAL)))
    refused = pretrain_shipping.CorruptStage0Error
    assert "no card" in error_message(lambda: pretrain_shipping.shipped_stage0("fast", tmp_path), refused)
    shipped.with_suffix(".json").write_text(json.dumps({"sha256": pretrain_shipping.sha256(shipped)}))
    assert pretrain_shipping.shipped_stage0("fast", tmp_path) == shipped
    blob = bytearray(shipped.read_bytes())
    blob[len(blob) // 2] ^= 0xFF  # one flipped byte
    shipped.write_bytes(bytes(blob))
    message = error_message(lambda: pretrain_shipping.shipped_stage0("fast", tmp_path), refused)
    assert "corrupted or was swapped" in message and "--init none" in message
    assert pretrain_shipping.shipped_stage0("ultra-fast", tmp_path) is None  # nothing shipped for it here


def test_the_stage0_message_names_files_relative_to_the_working_folder(tmp_path, monkeypatch, capsys):
    """A notebook's output must not carry the absolute path of whoever ran it last."""
    (tmp_path / "pretrained").mkdir()
    (tmp_path / "notebooks").mkdir()
    monkeypatch.setenv("LANDINGLIB_PRETRAINED", str(tmp_path / "pretrained"))
    monkeypatch.chdir(tmp_path / "notebooks")
    net = build_model("fast", len(classes.AERIAL))
    shipped = pipeline.save_checkpoint(tmp_path / "pretrained" / "stage0-fast.pt", net)
    shipped.with_suffix(".json").write_text(json.dumps({"sha256": pretrain_shipping.sha256(shipped)}))
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
    shipped.with_suffix(".json").write_text(json.dumps({"sha256": pretrain_shipping.sha256(shipped)}))
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
    with pytest.raises(pretrain_shipping.CorruptStage0Error):
        pipeline.stage0(cfg)


def test_the_shipped_stage0_files_load_on_a_fresh_clone():
    """What the course commits: each shipped file matches its card and loads with weights_only."""
    from landinglib.runtime import PACKAGE_DIR

    folder = PACKAGE_DIR.parent / "data" / "pretrained"
    shipped = sorted(folder.glob("stage0-*.pt"))
    assert {p.stem for p in shipped} >= {"stage0-fast", "stage0-ultra-fast"}
    for path in shipped:
        card = pretrain_shipping.verify_shipped(path)
        arch = path.stem.removeprefix("stage0-")
        model = build_model(arch, len(classes.AERIAL))
        model.load_state_dict(load_checkpoint(path)["model"])
        assert card["classes"] == list(classes.AERIAL.names) and path.stat().st_size <= 2_000_000
        assert card["frames"]["train"]["drone"] + card["frames"]["train"]["ortho"] >= 20 * 141  # 20x the course's UDD6 frames
