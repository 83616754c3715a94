import argparse
import dataclasses

import pytest

from landinglib.cli_parser import build_parser, config_default, config_settings
from landinglib.models import MODELS
from landinglib.pipeline_config import PipelineConfig
from landinglib.pretrain import PretrainConfig


def _command(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return commands.choices[name]


def _options(name: str) -> dict[str, argparse.Action]:
    return {action.dest: action for action in _command(name)._actions}


def test_every_pipeline_setting_is_a_train_option_whose_default_is_the_configs():
    options = _options("train")
    for f in dataclasses.fields(PipelineConfig):
        flag = "--" + f.name.replace("_", "-")
        assert f.name in options and flag in options[f.name].option_strings, flag
        assert options[f.name].default is argparse.SUPPRESS, flag  # not given: the dataclass decides
        assert options[f.name].help.startswith(f.metadata["help"].replace("%", "%%")), flag
        if f.default is not None and not isinstance(f.default, bool):
            assert options[f.name].help.endswith(f"(default {f.default})"), flag
    args = build_parser().parse_args(["train"])
    assert config_settings(args) == {} and PipelineConfig(**config_settings(args)) == PipelineConfig()


def test_a_train_option_given_reaches_the_config_with_the_fields_type():
    for f in dataclasses.fields(PipelineConfig):
        flag = "--" + f.name.replace("_", "-")
        if isinstance(f.default, bool):
            given = [f"--no-{flag[2:]}"] if f.default else [flag]
            assert config_settings(build_parser().parse_args(["train", *given])) == {f.name: not f.default}
        elif f.default is not None:
            settings = config_settings(build_parser().parse_args(["train", flag, str(f.default)]))
            assert settings == {f.name: f.default} and type(settings[f.name]) is type(f.default), flag
    settings = config_settings(build_parser().parse_args(["train", "--epochs1", "3", "--lr2", "1e-4", "--udd6", "u"]))
    assert settings == {"epochs1": 3, "lr2": 1e-4, "udd6": "u"}


def test_pretrain_options_are_the_pretrain_settings_with_a_help_text_and_their_defaults_the_configs():
    options = _options("pretrain")
    exposed = [f for f in dataclasses.fields(PretrainConfig) if "help" in f.metadata]
    assert {f.name for f in exposed} == {"arch", "frames", "val_frames", "epochs", "steps_per_epoch", "batch_size", "lr",
                                         "finish_epochs", "out", "shards", "device", "workers", "seed"}
    assert "finish_lr" not in options and "ortho_share" not in options  # the rest stay in Python only
    for f in exposed:
        assert options[f.name].default is argparse.SUPPRESS and options[f.name].help.startswith(f.metadata["help"])
        if f.default is not None:
            assert options[f.name].help.endswith(f"(default {f.default})"), f.name
    args = build_parser().parse_args(["pretrain"])
    assert config_settings(args, PretrainConfig) == {}
    args = build_parser().parse_args(["pretrain", "--frames", "700", "--lr", "1e-3", "--out", "o", "--ship"])
    assert config_settings(args, PretrainConfig) == {"frames": 700, "lr": 1e-3, "out": "o"} and args.ship == "default"


@pytest.mark.parametrize("command,dest", [("train", "arch"), ("pretrain", "arch"), ("sweep", "arch")])
def test_architecture_choices_are_the_registry(command, dest):
    assert tuple(_options(command)[dest].choices) == tuple(MODELS)


def test_the_other_commands_take_their_training_defaults_from_the_config():
    assert _options("evaluate")["size"].default == config_default("size") == 256
    assert _options("evaluate")["batch_size"].default == config_default("batch_size") == 6
    assert _options("export")["size"].default == _options("predict")["short_side"].default == 256
    assert _options("data")["chip_size"].default == config_default("chip_size") == 512
    assert _options("sweep")["device"].default == "auto" and _options("sweep")["seed"].default == 0


def test_a_command_is_required_and_named_in_the_arguments():
    assert build_parser().parse_args(["data"]).command == "data"
    with pytest.raises(SystemExit):
        build_parser().parse_args([])
