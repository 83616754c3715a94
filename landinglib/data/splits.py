"""Which items a split holds: the split names, the DroneDeploy benchmark's published scene lists and
``index.csv``, a stable split hashed from a name, an even spread of ``limit`` items, and the windows
that cut a large scene into chips."""
from __future__ import annotations

import re
import zlib
from pathlib import Path

SPLITS = ("train", "val", "test")


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def _select(items: list, limit: int | None) -> list:
    """At most ``limit`` items, spread evenly over the list (deterministic)."""
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    if limit is None or limit >= len(items):
        return items
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def _official_splits() -> dict[str, str]:
    """scene -> split from the DroneDeploy benchmark's published scene lists (train/val/test)."""
    path = Path(__file__).parent.with_name("dronedeploy_splits.csv")  # shipped in landinglib/
    rows = (line.split(",") for line in path.read_text().splitlines()[1:] if line.strip())
    return {scene: split for scene, split in rows}


def _read_index_csv(path: Path, known: set[str]) -> list[tuple[str, str | None]]:
    """Scenes (and their split, if a column gives it) in the order of ``index.csv``."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        tokens = [t for t in re.split(r"[,\s]+", line.strip()) if t]
        scene = next((t for t in tokens if t in known), None)
        if scene is None:
            continue  # the header, or a scene whose files are absent
        split = next((t for t in tokens if t in ("train", "val", "valid", "test")), None)
        rows.append((scene, "val" if split == "valid" else split))
    return rows


def _hashed_split(name: str, seed: int, val: float = 0.15, test: float = 0.15) -> str:
    """A stable split for a scene name alone (for folders whose index.csv has no split)."""
    u = (zlib.crc32(f"{seed}:{name}".encode()) % 10_000) / 10_000
    return "test" if u < test else "val" if u < test + val else "train"


def window_starts(length: int, size: int, stride: int) -> list[int]:
    """Start offsets of windows of ``size`` every ``stride`` pixels covering ``length``; the last
    window ends flush with the border (one window at 0 when ``length <= size``)."""
    if length <= size:
        return [0]
    out = list(range(0, length - size + 1, stride))
    return out + [length - size] if out[-1] != length - size else out


def _chip_grid(shape: tuple[int, int], chip: int, overlap: int) -> list[tuple[int, int]]:
    stride = chip - overlap
    return [(y, x) for y in window_starts(shape[0], chip, stride) for x in window_starts(shape[1], chip, stride)]
