"""Drawn once, kept on disk: a dataset folder is reused while its stamp (``GENERATED.json``, written
last) holds the same settings. A folder is drawn under a lock shared by all processes, into
``<root>.partial``, and renamed into place only when whole, so an interrupted run never leaves half
a dataset."""
from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from ..runtime import exclusive

FORMAT_VERSION = 5  # bump when the drawing changes, so cached data is regenerated


def is_complete(root: Path, settings: dict) -> bool:
    """Whether ``root`` holds a whole dataset drawn with ``settings`` (its stamp is written last)."""
    stamp = root / "GENERATED.json"
    return stamp.exists() and json.loads(stamp.read_text()).get("settings") == settings


def draw_once(root: Path, settings: dict, what: str, draw: Callable[[], object], overwrite: bool = False) -> Path:
    """``root`` as it is when it holds a complete dataset drawn with ``settings`` (unless ``overwrite``),
    else after ``draw()``. Several processes may ask at once (two notebooks, two sweep processes on first
    use): one draws while the others wait for it (``runtime.exclusive``, saying they wait for ``what``),
    then find the dataset complete."""
    if not overwrite and is_complete(root, settings):
        return root
    with exclusive(root, what):
        if not overwrite and is_complete(root, settings):  # drawn by another process while this one waited
            return root
        draw()
    return root


def partial_folder(root: Path) -> Path:
    """The empty folder ``<root>.partial`` to draw ``root`` into (what an interrupted run left there is removed)."""
    tmp = root.with_name(root.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    return tmp


def publish(tmp: Path, root: Path) -> None:
    """Put a completely drawn ``tmp`` folder in the place of ``root`` (by a rename)."""
    if root.exists():
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp.rename(root)
