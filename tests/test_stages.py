import dataclasses

import numpy as np
import pytest
import torch

from landinglib import stages
from landinglib.model import build_model, save_checkpoint
from landinglib.pipeline_config import PipelineConfig


def test_stage_config_carries_each_stage_recipe():
    cfg = PipelineConfig(out="runs/x", epochs1=3, epochs2=5, lr1=1e-3, lr2=5e-4, seed=7)
    one = stages.stage_config(1, cfg, np.array([1.0, 2.0]))
    two = stages.stage_config(2, cfg, out_dir="runs/x/direct")
    assert (one.epochs, one.lr, one.seed, one.class_weights) == (3, 1e-3, 7, [1.0, 2.0])
    assert one.out_dir.replace("\\", "/") == "runs/x/stage1"
    assert (two.epochs, two.lr, two.out_dir, two.class_weights) == (5, 5e-4, "runs/x/direct", None)
    with pytest.raises(ValueError, match="stage must be 1 or 2"):
        stages.stage_config(3, cfg)


def test_stage_config_takes_the_device_the_run_resolved():
    cfg = PipelineConfig(device="auto")
    assert stages.stage_config(1, cfg).device == "auto"  # nothing resolved yet: fit resolves it
    assert stages.stage_config(1, cfg, device=torch.device("cpu")).device == "cpu"
    assert stages.stage_config(2, cfg, device=torch.device("cuda", 1)).device == "cuda:1"


def test_a_stage_probes_its_new_classifier_for_a_third_of_its_epochs_unless_told():
    cfg = PipelineConfig(arch="fast")
    assert [stages.stage_config(k, cfg).probe_epochs for k in (1, 2)] == [4, 8]  # 12 and 24 epochs
    assert [stages.stage_config(k, PipelineConfig(arch="ultra-fast")).probe_epochs for k in (1, 2)] == [2, 2]
    assert stages.stage_config(2, PipelineConfig(epochs2=9, probe2=1)).probe_epochs == 1
    assert stages.stage_config(1, PipelineConfig(epochs1=9)).probe_epochs == 3
    shorter = dataclasses.replace(cfg, epochs1=2, epochs2=4)  # as a sweep trial shortens the base recipe
    assert [stages.stage_config(k, shorter).probe_epochs for k in (1, 2)] == [0, 1]
    for bad in (dict(epochs2=4, probe2=4), dict(epochs1=2, probe1=5), dict(probe1=-1)):
        with pytest.raises(ValueError, match="classifier-only epochs must be fewer"):
            PipelineConfig(**bad)


def test_stage_0_loads_given_weights(tmp_path):
    source = build_model("ultra-fast", 4)
    path = save_checkpoint(tmp_path / "init.pt", source)
    model, report = stages.stage0(PipelineConfig.fast(out=str(tmp_path / "run"), init=str(path), arch="ultra-fast"))
    assert report.new == ["classifier.weight", "classifier.bias"]
    assert torch.equal(model.backbone[3].weight, source.backbone[3].weight)


def test_stage_0_from_a_found_source_is_stage_0(tmp_path, capsys):
    path = save_checkpoint(tmp_path / "init.pt", build_model("ultra-fast", 4))
    cfg = PipelineConfig(init=str(path), arch="ultra-fast", seed=3)
    found, _ = stages.stage0(cfg)
    given, report = stages.stage0_from(cfg, stages.stage0_source(cfg))
    assert all(torch.equal(a, b) for a, b in zip(found.state_dict().values(), given.state_dict().values()))
    assert report.new == ["classifier.weight", "classifier.bias"]  # the fresh classifier, seeded alike
    random_start, report = stages.stage0_from(dataclasses.replace(cfg, init="none"), None)
    assert report is None and "with random weights (seed 3): --init none" in capsys.readouterr().out
