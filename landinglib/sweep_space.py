"""The sweep's search space: the Training Guide's grid, the settings of a search, and what one trial runs.

``GRID`` is stage-2 learning rate x batch size x architecture (the architectures are ``models.MODELS``,
in its order); ``SweepConfig`` says what a search explores and where its study lives; ``trial_config``
turns a point of the space into the pipeline settings of one trial, in its own folder.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from pathlib import Path

from .models import MODELS
from .pipeline_config import EPOCHS, PipelineConfig

GRID = {"lr": [1e-3, 5e-4, 1e-4], "batch_size": [4, 6, 8], "arch": list(MODELS)}
"""The Training Guide's grid: stage-2 learning rate x batch size x architecture (27 trials)."""


@dataclass
class SweepConfig:
    """What ``run_sweep`` searches and where it keeps the study.

    ``grid``: the values per parameter (``GRID`` by default); ``base``: the pipeline settings every
    trial starts from (data, size, device...); the epochs are ``epochs1`` / ``epochs2`` when set,
    else per architecture (``pipeline_config.EPOCHS``); ``trials``: how many trials this call runs (None: the whole grid; TPE
    needs a number); ``storage``: an Optuna database URL (default: ``{out}/study.db``).
    """

    out: str = "runs/sweep"
    study: str = "landing"
    storage: str | None = None
    sampler: str = "grid"  # "grid" or "tpe"
    grid: dict = field(default_factory=lambda: {k: list(v) for k, v in GRID.items()})
    trials: int | None = None
    base: PipelineConfig | None = None
    epochs1: int | None = None
    epochs2: int | None = None
    prune: bool = True
    latency: bool = True  # export each trial's model and time onnxruntime (batch 1, 2 threads)
    seed: int = 0
    heartbeat_s: int = 20  # a running trial says it is alive this often
    grace_s: int = 60  # a trial silent for this long is taken as dead, failed and retried

    def __post_init__(self):
        if self.sampler not in ("grid", "tpe"):
            raise ValueError(f"sampler must be 'grid' or 'tpe', got {self.sampler!r}")
        if self.sampler == "tpe" and not self.trials:
            raise ValueError("a TPE search needs a number of trials")
        unknown = set(self.grid) - set(GRID)
        if unknown or not all(self.grid.get(k) for k in GRID):
            raise ValueError(f"the grid needs values for {sorted(GRID)}" + (f"; unknown: {sorted(unknown)}" if unknown else ""))
        bad = [a for a in self.grid["arch"] if a not in MODELS]
        if bad:
            raise ValueError(f"unknown architecture {bad[0]!r}; choose from {sorted(MODELS)}")

    def storage_url(self) -> str:
        """The study's database URL: ``storage``, or the SQLite file ``{out}/study.db`` (absolute)."""
        return self.storage or f"sqlite:///{Path(self.out).resolve() / 'study.db'}"

    def location(self) -> str:
        """Where the study lives, for people: the database file as ``out`` names it (relative stays
        relative, so a notebook's output names no one's home folder), or the ``storage`` URL."""
        return self.storage or str(Path(self.out) / "study.db")


def suggest(trial, cfg: SweepConfig) -> dict:
    """A trial's parameters: a point of the grid (``GridSampler``), or TPE's draw from the grid's ranges
    (learning rate on a log scale, batch size as an integer, architecture as a choice)."""
    if cfg.sampler == "grid":
        return {"lr": trial.suggest_categorical("lr", cfg.grid["lr"]),
                "batch_size": trial.suggest_categorical("batch_size", cfg.grid["batch_size"]),
                "arch": trial.suggest_categorical("arch", cfg.grid["arch"])}
    lrs = cfg.grid["lr"]
    return {"lr": trial.suggest_float("lr", min(lrs), max(lrs), log=True),
            "batch_size": trial.suggest_int("batch_size", min(cfg.grid["batch_size"]), max(cfg.grid["batch_size"])),
            "arch": trial.suggest_categorical("arch", cfg.grid["arch"])}


def point_of(params: dict) -> str:
    """The name of a grid point (or of a TPE trial's parameters), e.g. "arch=fast batch_size=4 lr=0.001"."""
    return " ".join(f"{k}={params[k]:g}" if isinstance(params[k], float) else f"{k}={params[k]}" for k in sorted(params))


def grid_points(cfg: SweepConfig) -> list[dict]:
    """Every point of the grid, in a fixed order."""
    names = list(GRID)
    return [dict(zip(names, values)) for values in itertools.product(*(cfg.grid[n] for n in names))]


def trial_config(cfg: SweepConfig, number: int, params: dict) -> PipelineConfig:
    """The pipeline settings of one trial: the base, the trial's parameters, its own folder."""
    epochs1, epochs2 = EPOCHS[params["arch"]]
    return replace(cfg.base or PipelineConfig(), arch=params["arch"], batch_size=int(params["batch_size"]),
                   lr2=float(params["lr"]), lr1=2 * float(params["lr"]), out=str(Path(cfg.out) / f"trial-{number:03d}"),
                   epochs1=cfg.epochs1 or epochs1, epochs2=cfg.epochs2 or epochs2)
