"""Run-time settings shared by the library and the notebooks: seeds, fast mode, folders, and a
lock that lets several processes share one data folder."""
from __future__ import annotations

import contextlib
import os
import random
import tempfile
from collections.abc import Callable
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


@contextlib.contextmanager
def exclusive(path: str | os.PathLike, what: str = "", say: bool = True):
    """Hold an exclusive lock on ``path`` (the file ``<path>.lock`` beside it) across processes, e.g. two
    notebooks or two sweep processes that generate the same data on first use: one does the work while
    the others wait (saying so once, unless ``say`` is False), then find it done. The operating system drops the lock of a
    process that dies, so a killed run never blocks the next one."""
    from filelock import FileLock, Timeout

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path) + ".lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if say:
            print(f"waiting for another process that is preparing {what or path} ...", flush=True)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def write_atomic(path: str | os.PathLike, write: Callable | bytes | str) -> Path:
    """Write ``path`` so that a reader never sees half a file: into a temporary file in the same folder,
    flushed to disk, then renamed over ``path``. ``write`` is the content (bytes or text) or a function
    that writes into the open binary file (``lambda f: torch.save(state, f)``). The folder is created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(write):
                write(f)
            else:
                f.write(write.encode("utf-8") if isinstance(write, str) else write)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
