"""The argparse parser of the command line (``landinglib``, see ``__main__``).

``landinglib train`` has one option per ``PipelineConfig`` field (``landinglib pretrain`` one per
``PretrainConfig`` field with a help text), made from the field: its name
(``batch_size`` -> ``--batch-size``), type, choices, metavar, help and default live in the dataclass
only. An option not given stays out of the parsed arguments (``config_settings``), so the dataclass
(or its ``fast()`` recipe) decides.
"""
from __future__ import annotations

import argparse
import dataclasses
import types
import typing

from .models import MODELS
from .pipeline_config import PipelineConfig
from .pretrain import PretrainConfig
from .runtime import fast_mode

ARCHS = tuple(MODELS)


def config_default(name: str, config=PipelineConfig):
    """The default of field ``name`` of the dataclass ``config``."""
    return {f.name: f.default for f in dataclasses.fields(config)}[name]


def _plain_type(annotation) -> type:
    """``int`` for ``int | None``: the type an option's text is converted to."""
    if isinstance(annotation, types.UnionType):
        annotation, = (arg for arg in typing.get_args(annotation) if arg is not type(None))
    return annotation


def _help(f: dataclasses.Field) -> str:
    text = f.metadata["help"] + ("" if f.default is None or isinstance(f.default, bool) else f" (default {f.default})")
    return text.replace("%", "%%")  # argparse formats help with %


def _options(config) -> list[dataclasses.Field]:
    """The fields of the dataclass ``config`` that are command-line options: those with a help text."""
    return [f for f in dataclasses.fields(config) if "help" in f.metadata]


def add_config_options(parser: argparse.ArgumentParser, config=PipelineConfig) -> None:
    """One option per field of the dataclass ``config`` that has a help text: ``--no-NAME`` too for a bool
    field; choices and metavar from the field's metadata; no argparse default (``argparse.SUPPRESS``): the
    dataclass's."""
    hints = typing.get_type_hints(config)
    for f in _options(config):
        kind = _plain_type(hints[f.name])
        flag = "--" + f.name.replace("_", "-")
        extra = {key: value for key, value in f.metadata.items() if key != "help"}
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                                help=_help(f) + (" (default on)" if f.default else " (default off)"), **extra)
        else:
            parser.add_argument(flag, type=kind, default=argparse.SUPPRESS, help=_help(f), **extra)


def config_settings(args: argparse.Namespace, config=PipelineConfig) -> dict:
    """The fields of ``config`` given on the command line (by ``add_config_options``), by name."""
    return {f.name: getattr(args, f.name) for f in _options(config) if hasattr(args, f.name)}


def _fast(parser: argparse.ArgumentParser, help: str) -> None:
    parser.add_argument("--fast", action="store_true", default=fast_mode(), help=help)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: one sub-command per job (``args.command`` names it)."""
    parser = argparse.ArgumentParser(prog="landinglib", description="Drone landing-zone segmentation course")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("data", help="generate the built-in data (first use) and summarise it")
    _fast(p, "the tiny test-sized data")
    p.add_argument("--chip-size", type=int, default=config_default("chip_size"), help="DroneDeploy chip size in pixels")

    p = sub.add_parser("train", help="run stages 0 -> 1 -> 2 and print a results table")
    add_config_options(p)
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoints in --out")
    _fast(p, "a few steps on tiny data")

    p = sub.add_parser("pretrain", help="stage 0: train a network on a large procedural world (the course ships "
                                        "the result in data/pretrained/)")
    add_config_options(p, PretrainConfig)
    p.add_argument("--ship", nargs="?", const="default", metavar="PATH",
                   help="write the weights and their card to data/pretrained/stage0-ARCH.pt (or PATH)")
    p.add_argument("--resume", action="store_true", help="continue from --out/last.pt")
    _fast(p, "a few steps on a few frames")

    p = sub.add_parser("sweep", help="a hyperparameter search (Optuna) that resumes and can run on several machines")
    p.add_argument("--out", default="runs/sweep", metavar="DIR", help="trial folders, sweep.json, sweep.png")
    p.add_argument("--study", default="landing", help="study name (several processes may share one)")
    p.add_argument("--storage", metavar="URL", help="Optuna database URL (default: sqlite:///OUT/study.db; "
                                                    "postgresql://user@host/db needs pip install \"landinglib[postgres]\")")
    p.add_argument("--sampler", default="grid", choices=["grid", "tpe"])
    p.add_argument("--trials", type=int, help="trials to run in this call (default: the rest of the grid)")
    p.add_argument("--lr", type=float, nargs="+", help="stage-2 learning rates (default 1e-3 5e-4 1e-4)")
    p.add_argument("--batch-size", type=int, nargs="+", help="batch sizes (default 4 6 8)")
    p.add_argument("--arch", nargs="+", choices=ARCHS, help="architectures (default: all three)")
    p.add_argument("--epochs1", type=int, help="stage 1 epochs of every trial (default: per architecture)")
    p.add_argument("--epochs2", type=int, help="stage 2 epochs of every trial (default: per architecture)")
    p.add_argument("--stage2-data", metavar="PATH", help="your own stage-2 data (see train)")
    p.add_argument("--classes", metavar="FILE", help="the class file of --stage2-data")
    p.add_argument("--no-prune", action="store_true", help="let every trial finish")
    p.add_argument("--no-latency", action="store_true", help="do not export and time each trial's model")
    p.add_argument("--device", default=config_default("device"))
    p.add_argument("--workers", type=int)
    p.add_argument("--seed", type=int, default=config_default("seed"))
    _fast(p, "a few steps on tiny data per trial")

    p = sub.add_parser("evaluate", help="score a landing checkpoint on UDD6 next to a trivial baseline")
    p.add_argument("--checkpoint", required=True, metavar="PATH", help="a stage-2 (landing) checkpoint")
    p.add_argument("--udd6", metavar="PATH", help="UDD6 folder (default: built-in data)")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--size", type=int, default=config_default("size"), help="short side in pixels (as in training)")
    p.add_argument("--batch-size", type=int, default=config_default("batch_size"))
    p.add_argument("--false-safe-budget", type=float, metavar="SHARE",
                   help="choose a new Safe threshold on the validation split for this false-safe budget "
                        "(default: the checkpoint's threshold)")
    _fast(p, "the tiny built-in data")

    p = sub.add_parser("predict", help="overlay, full-size mask and landing-site JSON per image (folders resume)")
    p.add_argument("images", metavar="IMAGE_OR_FOLDER")
    p.add_argument("--checkpoint", required=True, metavar="PATH", help="a stage-2 (landing) checkpoint")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--gsd", type=float, default=None,
                   help="ground sampling distance of the images, m/px: scales them to the checkpoint's training GSD "
                        "and sizes the landing footprint (default: short side to --short-side, footprint at 0.17 m/px)")
    p.add_argument("--drone-radius", type=float, default=0.5, help="drone radius in metres")
    p.add_argument("--short-side", type=int, default=config_default("size"),
                   help="the image is seen at this short side (training scale)")
    p.add_argument("--tta", action="store_true", help="average with horizontally flipped windows")
    p.add_argument("--safe-threshold", type=float, metavar="P",
                   help="Safe only where P(Safe) reaches this (default: the threshold stored in the checkpoint, "
                        "chosen on validation by landinglib train)")
    p.add_argument("--overwrite", action="store_true", help="redo images whose outputs are already complete")

    p = sub.add_parser("export", help="ONNX export (checked) and static INT8 quantization")
    p.add_argument("--checkpoint", required=True, metavar="PATH", help="a stage-2 (landing) checkpoint")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--int8", action="store_true", help="also write landing.int8.onnx (static, calibrated)")
    p.add_argument("--udd6", metavar="PATH", help="UDD6 folder for calibration and the accuracy check")
    p.add_argument("--size", type=int, default=config_default("size"))
    p.add_argument("--calibration-images", type=int, default=64)
    _fast(p, "the tiny built-in data")
    return parser
