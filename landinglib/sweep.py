"""A hyperparameter search on Optuna that resumes: the Training Guide's grid, or TPE.

``run_sweep(SweepConfig(...))`` (``landinglib sweep``) runs trials of the normal pipeline, each in
its own folder ``{out}/trial-NNN``. The default is the guide's grid (Optuna's ``GridSampler``):
stage-2 learning rate 1e-3 / 5e-4 / 1e-4 (stage 1 uses twice it, as the default recipe does),
batch size 4 / 6 / 8, architecture ultra-fast / fast / accurate; ``sampler="tpe"`` searches the
same ranges with TPE for ``trials`` trials. The objective is the best stage-2 **validation** mIoU:
the test split chooses nothing, and is reported beside it with the unseen-style test and the
exported model's onnxruntime latency.

The study lives in a database (SQLite by default; PostgreSQL with ``pip install "landinglib[postgres]"``;
any URL Optuna accepts), so:

* several processes or machines can work on one study: every grid point is queued in the study as a
  waiting trial, and a process takes a waiting trial atomically (the database hands each to one
  process); a point queued twice by two processes starting together runs once (the lower trial
  number wins, the other ends at once as a duplicate);
* no grid point is lost: a trial whose process died (it stops sending heartbeats and is failed after
  ``grace_s``) is queued again at once, and a trial that raised is queued again when the command is run
  again — with the same parameters, in the same folder, up to ``MAX_ATTEMPTS`` attempts in all; the
  table says how many attempts each point took, and the command exits with 1 while a point has none
  that finished;
* hopeless trials are pruned: validation mIoU is reported after every epoch and Optuna's median
  pruner stops a trial that falls below the median of earlier trials at the same epoch.

The pieces, one module each: the search space and one trial's settings (``sweep_space``), the study's
database and its queue (``sweep_study``), the rows, table and plots (``sweep_results``). This module
runs the trials; the names of those three are importable from here too.
"""
from __future__ import annotations

import json
import logging
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from . import export
from .pipeline import run
from .sweep_results import pareto_front, plot_sweep, point_rows, sweep_rows, sweep_table, text_color, unfinished
from .sweep_space import GRID, SweepConfig, grid_points, point_of, suggest, trial_config
from .sweep_study import (MAX_ATTEMPTS, POSTGRES_HINT, STORAGE_ATTEMPTS, holds_point, open_study, queue_grid,
                          quiet_experimental, requeue_failed, work_left)

__all__ = ["run_sweep", "onnx_latency_ms",
           # sweep_space: the search space and one trial's settings
           "GRID", "SweepConfig", "suggest", "point_of", "grid_points", "trial_config",
           # sweep_study: the study's database and its queue
           "STORAGE_ATTEMPTS", "MAX_ATTEMPTS", "POSTGRES_HINT", "open_study",
           # sweep_results: rows, table, plots
           "sweep_rows", "point_rows", "unfinished", "sweep_table", "pareto_front", "text_color", "plot_sweep"]


def onnx_latency_ms(checkpoint: str | Path, runs: int = 20, size: int = 256) -> float:
    """Median onnxruntime fp32 latency (ms) of a checkpoint's network, batch 1, 2 threads."""
    import numpy as np

    from . import classes
    from .model import load_model

    model = load_model(checkpoint, classes.LANDING)
    with tempfile.TemporaryDirectory() as tmp:
        export.to_onnx(model, Path(tmp) / "m.onnx", size=size, check=False)
        session = export.onnx_session(Path(tmp) / "m.onnx", threads=2)
        x = {"image": np.random.default_rng(0).standard_normal((1, 3, size, size), dtype=np.float32)}
        return export.time_call(lambda: session.run(None, x), runs, warmup=1)["median_ms"]


def _objective(cfg: SweepConfig):
    """What Optuna runs per trial: the trial's point through the pipeline, stage-2 validation mIoU reported
    after each epoch (what the pruner judges), test figures and latency recorded beside it; returns the best
    stage-2 validation mIoU. A trial with no point left, or whose point an earlier trial holds, ends as pruned."""
    import optuna

    def objective(trial) -> float:
        params = suggest(trial, cfg)
        trials = trial.study.get_trials(deepcopy=False)
        frozen = next(t for t in trials if t.number == trial.number)
        point = frozen.user_attrs.get("point")
        if point is None and cfg.sampler == "grid":  # no queued point was left when this process asked
            trial.set_user_attr("idle", True)
            raise optuna.TrialPruned("no grid point left to run")
        if point is None:  # a new TPE trial: its parameters name it
            point = point_of(params)
            trial.set_user_attr("point", point)
            trial.set_user_attr("attempt", 1)
        earlier = [t for t in trials
                   if t.number < trial.number and t.user_attrs.get("point") == point and holds_point(t)]
        if earlier:  # the same point queued twice (two processes started together): the lower number runs it
            trial.set_user_attr("duplicate_of", earlier[0].number)
            raise optuna.TrialPruned(f"grid point {point} is trial {earlier[0].number}'s")
        number = frozen.user_attrs.get("folder", trial.number)  # a retry continues in the first attempt's folder
        trial.set_user_attr("folder", number)

        def report(stage, epoch, row):
            if stage != 2:
                return
            value = row["val_miou"] if row["val_miou"] == row["val_miou"] else 0.0
            trial.report(value, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"stage 2 epoch {epoch}: val mIoU {value:.3f} below the median")

        start = time.perf_counter()
        try:  # a point the pipeline refuses (e.g. a probe longer than its epochs) or a run that raises
            pipeline_cfg = trial_config(cfg, number, params)
            trial.set_user_attr("out", pipeline_cfg.out)
            results = run(pipeline_cfg, resume=True, on_epoch=report if cfg.prune else None)
        except optuna.TrialPruned:
            raise
        except Exception as err:  # recorded; the trial fails, and the next command queues its point again
            trial.set_user_attr("error", f"{type(err).__name__}: {err}"[:500])
            raise
        stage2 = results[-1]
        trial.set_user_attr("minutes", round((time.perf_counter() - start) / 60, 2))
        trial.set_user_attr("test_miou", stage2.test_miou)
        trial.set_user_attr("unseen_miou", stage2.unseen_miou)
        trial.set_user_attr("checkpoint", stage2.checkpoint)
        if stage2.landing:  # what the model calls Safe on the test split, under its rule (chosen on validation)
            rule = stage2.landing["test"]["rule"]
            trial.set_user_attr("safe_threshold", stage2.landing["threshold"])
            trial.set_user_attr("test_false_safe", rule["false_safe_rate"])
            trial.set_user_attr("test_best_site_on_safe", rule.get("best_site_on_safe"))
        if cfg.latency:
            trial.set_user_attr("latency_ms", round(onnx_latency_ms(stage2.checkpoint), 2))
        return stage2.val_miou

    return objective


def run_sweep(cfg: SweepConfig, say=print) -> list[dict]:
    """Run, resume or join the study, one trial at a time, until every grid point is done or has failed
    ``MAX_ATTEMPTS`` times (or ``trials`` trials have run in this call); returns ``sweep_rows``, writes
    ``{out}/sweep.json`` and the plots ``{out}/sweep.png``."""
    from optuna.storages import fail_stale_trials

    Path(cfg.out).mkdir(parents=True, exist_ok=True)
    logging.getLogger("optuna").setLevel(logging.WARNING)
    study = open_study(cfg)
    say(f"study {cfg.study!r} in {cfg.location()} ({cfg.sampler}): {len(study.trials)} trial(s) so far")
    objective, ran = _objective(cfg), 0
    requeue_failed(study)  # points whose last attempt raised: queued again (a command never retries its own failures)
    while cfg.trials is None or ran < cfg.trials:
        with quiet_experimental():
            fail_stale_trials(study)  # trials of killed processes: failed, and their points queued again
        if cfg.sampler == "grid":
            queue_grid(study, cfg)
        if not work_left(study, cfg):
            break
        try:
            study.optimize(objective, n_trials=1, gc_after_trial=True, catch=(Exception,))
        except ValueError as err:  # optuna refuses the result of a trial that is no longer running
            if not str(err).startswith("Cannot tell a"):
                raise
            say("a trial of this process was ended by another process while it ran (its heartbeat came late); "
                "its point is queued again")
        ran += 1
    rows = sweep_rows(study)
    (Path(cfg.out) / "sweep.json").write_text(json.dumps({"config": _jsonable(cfg), "trials": rows}, indent=2))
    if any(r["state"] == "COMPLETE" for r in rows):
        import matplotlib.pyplot as plt

        plt.close(plot_sweep(rows, Path(cfg.out)))  # saved to a file; a notebook draws it when it asks
    return rows


def _jsonable(cfg: SweepConfig) -> dict:
    out = asdict(cfg)
    out["storage"] = cfg.storage_url()
    return out
