"""The sweep's search space: the grid, the checks of a search's settings, one trial's pipeline settings."""
from pathlib import Path

import pytest

from landinglib import sweep_space
from landinglib.__main__ import main
from landinglib.models import MODELS

from .test_sweep import _config


def test_the_grid_tries_every_registered_architecture_in_the_registry_order():
    assert sweep_space.GRID["arch"] == list(MODELS) == ["ultra-fast", "fast", "accurate"]
    assert len(sweep_space.grid_points(sweep_space.SweepConfig())) == 27
    assert sweep_space.grid_points(sweep_space.SweepConfig())[0] == {"lr": 1e-3, "batch_size": 4, "arch": "ultra-fast"}


def test_the_study_is_named_where_out_says_not_by_an_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = sweep_space.SweepConfig(out="../runs/sweep-notebook")
    assert cfg.location() == str(Path("../runs/sweep-notebook") / "study.db")
    assert cfg.storage_url() == f"sqlite:///{(tmp_path / '../runs/sweep-notebook').resolve() / 'study.db'}"
    assert sweep_space.SweepConfig(storage="postgresql://u@h/db").location() == "postgresql://u@h/db"


def test_sweep_settings_are_checked_before_anything_runs(tmp_path, capsys):
    with pytest.raises(ValueError, match="TPE search needs a number"):
        sweep_space.SweepConfig(sampler="tpe")
    with pytest.raises(ValueError, match="unknown architecture"):
        sweep_space.SweepConfig(grid={"lr": [1e-3], "batch_size": [4], "arch": ["huge"]})
    cfg = sweep_space.trial_config(_config(tmp_path), 7, {"lr": 5e-4, "batch_size": 8, "arch": "fast"})
    assert (cfg.lr2, cfg.lr1, cfg.batch_size, cfg.arch) == (5e-4, 1e-3, 8, "fast") and cfg.out.endswith("trial-007")
    assert main(["sweep", "--fast", "--stage2-data", str(tmp_path / "missing"), "--out", str(tmp_path / "s")]) == 2
