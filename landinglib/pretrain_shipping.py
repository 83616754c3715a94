"""Stage 0, shipped: the pretrained weights the course commits, each with a card that says how it was made.

``ship`` writes ``data/pretrained/stage0-<arch>.pt`` (weights only) with its card (the command, commit,
seeds, frames, machine, time, held-out scores and the file's SHA-256), and ``shipped_stage0`` gives the
pipeline that file only when its hash matches the card.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from . import classes
from .checkpoint import load_checkpoint, save_checkpoint
from .models import build_model
from .pretrain_world import KINDS, PRETRAIN_SEED, SPLIT_IDS
from .runtime import pretrained_dir

if TYPE_CHECKING:
    from .pretrain import PretrainConfig


def shipped_path(arch: str, folder: str | os.PathLike | None = None) -> Path:
    """Where the shipped stage 0 of ``arch`` lives: ``data/pretrained/stage0-<arch>.pt``."""
    return Path(folder or pretrained_dir()) / f"stage0-{arch}.pt"


def card_path(checkpoint: str | os.PathLike) -> Path:
    """The card of a shipped file: the same path with ``.json``."""
    return Path(checkpoint).with_suffix(".json")


def sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _machine() -> dict:
    from .profiling import describe_machine

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": describe_machine(), "gpu": gpu, "torch": torch.__version__, "python": platform.python_version()}


def _commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).resolve().parent).stdout.strip() or None
    except (OSError, subprocess.CalledProcessError):
        return None


def ship(result: dict, cfg: PretrainConfig, dest: str | os.PathLike | None = None, command: str | None = None) -> Path:
    """Write the pretrained weights (model only: a small file) to ``dest`` (default ``shipped_path``) and
    its card next to it (``.json``): how it was made and what it scores on the held-out frames, with the
    file's SHA-256, which ``shipped_stage0`` checks before the pipeline uses it."""
    dest = Path(dest) if dest else shipped_path(cfg.arch)
    best = load_checkpoint(result["checkpoint"])
    model = build_model(cfg.arch, len(classes.AERIAL))
    model.load_state_dict(best["model"])
    save_checkpoint(dest, model, epoch=best["epoch"], class_names=classes.AERIAL.names,
                    config={"stage": 0, "arch": cfg.arch, "pretrain": asdict(cfg)},
                    metrics={"val_miou": result["val"]["miou"]})
    val = result["val"]
    card = {
        "file": dest.name, "sha256": sha256(dest), "bytes": dest.stat().st_size,
        "what": f"stage 0 of the course: {cfg.arch} trained on the built-in world's {len(classes.AERIAL)} aerial classes",
        "classes": list(classes.AERIAL.names),
        "command": command or " ".join(["landinglib", *sys.argv[1:]]),
        "commit": _commit(), "machine": _machine(),
        "train_seconds": round(result["seconds"]),
        "draw_seconds": None if result["draw_seconds"] is None else round(result["draw_seconds"]),
        "frames": result["frames"], "seeds": {"frames": f"({PRETRAIN_SEED}, split/kind id, index)",
                                              "split_ids": {f"{k}/{s}": v for (k, s), v in SPLIT_IDS.items()},
                                              "training": cfg.seed},
        "styles": {kind: style.name for kind, (style, _) in KINDS.items()},
        "epochs": {"phase 1": cfg.epochs, "phase 2": cfg.finish_epochs}, "best_epoch_of_the_last_phase": best["epoch"],
        "held_out": {"frames": sum(result["frames"]["val"].values()), "miou": round(val["miou"], 4),
                     "pixel_accuracy": round(val["pixel_accuracy"], 4),
                     "iou": {n: round(v, 4) for n, v in zip(classes.AERIAL.names, val["iou"]) if v == v}},
        "recipe": asdict(cfg),
    }
    card_path(dest).write_text(json.dumps(card, indent=2) + "\n")
    return dest


class CorruptStage0Error(ValueError):
    """A shipped stage-0 file does not match its card (corrupted, or swapped for another file)."""


def verify_shipped(path: str | os.PathLike) -> dict:
    """The card of a shipped stage-0 file, after checking the file's SHA-256 against it."""
    path, card = Path(path), card_path(path)
    if not card.is_file():
        raise CorruptStage0Error(f"{path} has no card {card.name}: the course cannot tell how it was made")
    expected = json.loads(card.read_text()).get("sha256")
    actual = sha256(path)
    if actual != expected:
        raise CorruptStage0Error(f"{path} does not match its card {card.name} (SHA-256 {actual[:12]}... instead of "
                                 f"{str(expected)[:12]}...): the file is corrupted or was swapped. Restore it with "
                                 "`git checkout data/pretrained`, or start from random weights with --init none")
    return json.loads(card.read_text())


def shipped_stage0(arch: str, folder: str | os.PathLike | None = None) -> Path | None:
    """The verified shipped stage 0 of ``arch``, or None when the course ships none for it."""
    path = shipped_path(arch, folder)
    if not path.is_file():
        return None
    verify_shipped(path)
    return path
