import dataclasses

import pytest

from landinglib.models import MODELS
from landinglib.pipeline_config import EPOCHS, NOTEBOOK_FAST, PipelineConfig, crop_fits, notebook_config


def test_crop_must_fit_the_image_scale():
    assert PipelineConfig(size=256, crop=None).crop is None
    for bad in (0, 16, 100, 288):
        with pytest.raises(ValueError, match="multiple of 32 and at most size 256"):
            PipelineConfig(size=256, crop=bad)


def test_a_crop_fits_when_it_is_a_multiple_of_32_and_no_larger_than_the_image_scale():
    assert [c for c in (-32, 0, 16, 32, 100, 128, 256, 288) if crop_fits(c, 256)] == [32, 128, 256]
    assert crop_fits(288) and not crop_fits(100) and not crop_fits(0)  # no scale given: any multiple of 32


def test_epochs_default_per_architecture_and_stay_when_given():
    assert PipelineConfig().arch == "fast"  # the default; ultra-fast is the reference the notebooks teach
    assert EPOCHS["fast"] == (12, 24) and EPOCHS["ultra-fast"] == (6, 8)
    for arch, (e1, e2) in EPOCHS.items():
        cfg = PipelineConfig(arch=arch)
        assert (cfg.epochs1, cfg.epochs2) == (e1, e2)
    assert PipelineConfig(arch="fast", epochs1=3).epochs1 == 3
    assert PipelineConfig(arch="fast", epochs2=0).epochs2 == 0
    with pytest.raises(ValueError, match="unknown architecture"):
        PipelineConfig(arch="huge")


def test_every_registered_architecture_has_default_epochs_and_is_accepted():
    assert list(EPOCHS) == list(MODELS)
    with pytest.raises(ValueError, match=r"choose one of \['accurate', 'fast', 'ultra-fast'\]"):
        PipelineConfig(arch="huge")


def test_every_setting_has_a_help_text():
    assert all(f.metadata.get("help") for f in dataclasses.fields(PipelineConfig))


def test_the_notebooks_share_one_configuration_per_run_folder():
    fast = notebook_config(fast=True)
    assert fast.out == "../runs/notebooks-fast" and fast.arch == "ultra-fast"
    assert fast == PipelineConfig.fast(**NOTEBOOK_FAST, arch="ultra-fast", out="../runs/notebooks-fast")
    assert (fast.epochs1, fast.epochs2, fast.max_steps) == (8, 3, 4)
    # stage 1's data (notebook 03) and stage 2's (notebooks 04-05) leave the recipe of the run folder alone
    stage1 = notebook_config(fast=True, dronedeploy=None)
    stage2 = notebook_config(fast=True, udd6=None, stage2_data=None, classes=None)
    assert stage1 == stage2 == fast
    assert notebook_config("fast", fast=True).out == "../runs/notebooks-fast-fast"


def test_full_mode_notebooks_run_the_full_course():
    full = notebook_config("fast", fast=False)
    assert full == PipelineConfig(arch="fast", out="../runs/notebooks-fast")  # "-fast": the architecture's name
    assert (full.epochs1, full.epochs2) == EPOCHS["fast"] and full.max_steps is None and full.limit is None
    assert notebook_config(fast=False).out == "../runs/notebooks"
    assert notebook_config(fast=False, runs="runs").out == "runs/notebooks"


def test_the_notebook_configuration_follows_fast_mode(monkeypatch):
    monkeypatch.setenv("LANDINGLIB_FAST", "1")
    assert notebook_config().out.endswith("notebooks-fast")
    monkeypatch.setenv("LANDINGLIB_FAST", "0")
    assert notebook_config().out.endswith("notebooks")


def test_a_notebook_can_try_a_change_on_top_of_the_shared_recipe():
    tried = notebook_config(fast=True, augment="strong", out="../runs/strong")
    assert tried == dataclasses.replace(notebook_config(fast=True), augment="strong", out="../runs/strong")
    assert notebook_config(fast=False, epochs2=2).epochs2 == 2
    assert notebook_config(fast=False).epochs2 == EPOCHS["ultra-fast"][1]
