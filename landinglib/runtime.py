"""Run-time settings shared by the library and the notebooks: seeds, fast mode, folders."""
from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np

PACKAGE_DIR = Path(__file__).resolve().parent


def set_seed(seed: int = 0) -> None:
    """Seed Python's ``random``, NumPy and PyTorch (CPU and CUDA) in one call."""
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return
    torch.manual_seed(seed)


def fast_mode() -> bool:
    """True when ``LANDINGLIB_FAST=1``: tiny data and a few steps (what the tests run)."""
    return os.environ.get("LANDINGLIB_FAST", "0").strip().lower() not in ("", "0", "false", "no")


def data_dir() -> Path:
    """Where built-in data lives: ``$LANDINGLIB_DATA``, else ``data/`` of this checkout.

    When the package is installed outside a checkout, ``~/.cache/landinglib/data`` is used.
    """
    if os.environ.get("LANDINGLIB_DATA"):
        return Path(os.environ["LANDINGLIB_DATA"]).expanduser()
    checkout = PACKAGE_DIR.parent
    if (checkout / "pyproject.toml").exists():
        return checkout / "data"
    return Path.home() / ".cache" / "landinglib" / "data"


def pretrained_dir() -> Path:
    """Where stage-0 checkpoints live (the shipped ones, and a Cityscapes BiSeNetV2 you bring):
    ``$LANDINGLIB_PRETRAINED``, else ``data/pretrained/`` of this checkout (also when ``$LANDINGLIB_DATA``
    moves the generated data elsewhere: the shipped files are part of the checkout), else
    ``data_dir() / "pretrained"``."""
    if os.environ.get("LANDINGLIB_PRETRAINED"):
        return Path(os.environ["LANDINGLIB_PRETRAINED"]).expanduser()
    checkout = PACKAGE_DIR.parent
    if (checkout / "pyproject.toml").exists():
        return checkout / "data" / "pretrained"
    return data_dir() / "pretrained"


def workers_from_environment() -> int | None:
    """``$LANDINGLIB_WORKERS`` as a number of worker processes (0 = none), or None when it is not set."""
    value = os.environ.get("LANDINGLIB_WORKERS", "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise ValueError(f"LANDINGLIB_WORKERS must be a whole number of worker processes, got {value!r}")
    return int(value)


def default_workers() -> int:
    """DataLoader workers that leave a core for the training loop (0 on a 1-core machine);
    ``$LANDINGLIB_WORKERS`` overrides it (e.g. 0 where worker processes cannot start)."""
    override = workers_from_environment()
    if override is not None:
        return override
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(0, min(4, cores - 1))
