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
"""
from __future__ import annotations

import contextlib
import itertools
import json
import logging
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from . import export
from .pipeline import EPOCHS, PipelineConfig, run
from .tables import Table

GRID = {"lr": [1e-3, 5e-4, 1e-4], "batch_size": [4, 6, 8], "arch": ["ultra-fast", "fast", "accurate"]}
"""The Training Guide's grid: stage-2 learning rate x batch size x architecture (27 trials)."""


@dataclass
class SweepConfig:
    """What ``run_sweep`` searches and where it keeps the study.

    ``grid``: the values per parameter (``GRID`` by default); ``base``: the pipeline settings every
    trial starts from (data, size, device...); the epochs are ``epochs1`` / ``epochs2`` when set,
    else per architecture (``pipeline.EPOCHS``); ``trials``: how many trials this call runs (None: the whole grid; TPE
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
        bad = [a for a in self.grid["arch"] if a not in EPOCHS]
        if bad:
            raise ValueError(f"unknown architecture {bad[0]!r}; choose from {sorted(EPOCHS)}")

    def storage_url(self) -> str:
        return self.storage or f"sqlite:///{Path(self.out).resolve() / 'study.db'}"

    def location(self) -> str:
        """Where the study lives, for people: the database file as ``out`` names it (relative stays
        relative, so a notebook's output names no one's home folder), or the ``storage`` URL."""
        return self.storage or str(Path(self.out) / "study.db")


@contextlib.contextmanager
def _quiet_experimental():
    """Optuna marks its heartbeat API "experimental" at every use; that warning is not news to a learner."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


STORAGE_ATTEMPTS = 5
"""Tries to open the study database (see ``_storage``)."""
MAX_ATTEMPTS = 3
"""A grid point (or TPE trial) that fails is run again until it has had this many attempts."""
POSTGRES_HINT = 'pip install "landinglib[postgres]"'
"""What installs the PostgreSQL driver (psycopg 3) that ``postgresql://`` URLs need."""


def _storage(cfg: SweepConfig):
    import optuna
    from optuna.storages import RDBStorage
    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

    url = cfg.storage_url()
    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}  # several processes wait their turn
    for attempt in range(STORAGE_ATTEMPTS):
        try:
            with _quiet_experimental():
                storage = RDBStorage(url, engine_kwargs=kwargs, heartbeat_interval=cfg.heartbeat_s,
                                     grace_period=cfg.grace_s, heartbeat_stale_trial_callback=_retry_stale)
            return storage, optuna
        except ImportError as err:  # SQLAlchemy found no driver for the URL's database
            if url.startswith("postgresql"):
                raise ValueError(f"--storage {url}: no PostgreSQL driver is installed. Install it with "
                                 f"{POSTGRES_HINT} (psycopg 3), or give a postgresql+DRIVER:// URL of a driver "
                                 f"you have ({err})") from None
            raise ValueError(f"--storage {url}: the database driver is missing ({err})") from None
        except (IntegrityError, OperationalError, ProgrammingError):
            # two processes creating the same new database at once: one writes the schema, the other's
            # insert of the schema version (or its CREATE TABLE) collides; once the winner is done, opening it
            # again works
            if attempt == STORAGE_ATTEMPTS - 1:
                raise
            time.sleep(0.5 * (attempt + 1))


def open_study(cfg: SweepConfig):
    """The study (created, or loaded to resume or to join) with its sampler and pruner."""
    storage, optuna = _storage(cfg)
    if cfg.sampler == "grid":
        sampler = optuna.samplers.GridSampler(cfg.grid, seed=cfg.seed)
    else:
        sampler = optuna.samplers.TPESampler(seed=cfg.seed)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1) if cfg.prune else optuna.pruners.NopPruner()
    return optuna.create_study(study_name=cfg.study, storage=storage, sampler=sampler, pruner=pruner,
                               direction="maximize", load_if_exists=True)


def _suggest(trial, cfg: SweepConfig) -> dict:
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
    import optuna

    def objective(trial) -> float:
        params = _suggest(trial, cfg)
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
        earlier = [t for t in trials if t.number < trial.number and t.user_attrs.get("point") == point and _counts(t)]
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


def _counts(t) -> bool:
    """Whether a trial holds its grid point: queued, running or done (not failed, not a duplicate, not idle)."""
    from optuna.trial import TrialState

    if t.state == TrialState.FAIL or "duplicate_of" in t.user_attrs or t.user_attrs.get("idle"):
        return False
    return t.state in (TrialState.WAITING, TrialState.RUNNING, TrialState.COMPLETE, TrialState.PRUNED)


def _queue_attempt(study, failed, attempt: int) -> None:
    """Queue the next attempt of a failed trial: same parameters, same folder (its checkpoints resume)."""
    import optuna

    study.add_trial(optuna.create_trial(
        state=optuna.trial.TrialState.WAITING, params=failed.params, distributions=failed.distributions,
        user_attrs={"point": failed.user_attrs.get("point") or point_of(failed.params), "attempt": attempt,
                    "folder": failed.user_attrs.get("folder", failed.number), "retry_of": failed.number},
        system_attrs={"fixed_params": failed.params}))


def _retry_stale(study, trial) -> None:
    """Optuna calls this for a trial whose process died (no heartbeat): its point is queued again."""
    if trial.params and trial.user_attrs.get("attempt", 1) < MAX_ATTEMPTS:
        _queue_attempt(study, trial, trial.user_attrs.get("attempt", 1) + 1)


def _requeue_failed(study) -> None:
    """Queue again every failed trial whose point has no later attempt, until it has had ``MAX_ATTEMPTS``."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    for t in trials:
        if t.state != TrialState.FAIL or not t.params or t.user_attrs.get("attempt", 1) >= MAX_ATTEMPTS:
            continue
        point = t.user_attrs.get("point") or point_of(t.params)
        if not any(u.number > t.number and u.user_attrs.get("point") == point for u in trials):
            _queue_attempt(study, t, t.user_attrs.get("attempt", 1) + 1)


def _queue_grid(study, cfg: SweepConfig) -> None:
    """Queue every grid point that has no trial yet as a waiting trial (the database hands each to one process)."""
    have = {t.user_attrs.get("point") for t in study.get_trials(deepcopy=False)}
    for params in grid_points(cfg):
        point = point_of(params)
        if point not in have:
            study.enqueue_trial(params, user_attrs={"point": point, "attempt": 1})


def _work_left(study, cfg: SweepConfig) -> bool:
    """Whether this process should start another trial: a queued trial is waiting (a grid point, or a retry);
    a TPE search always has more to try. Points that other processes are running are theirs."""
    from optuna.trial import TrialState

    if cfg.sampler != "grid":
        return True
    return any(t.state == TrialState.WAITING for t in study.get_trials(deepcopy=False))


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
    _requeue_failed(study)  # points whose last attempt raised: queued again (a command never retries its own failures)
    while cfg.trials is None or ran < cfg.trials:
        with _quiet_experimental():
            fail_stale_trials(study)  # trials of killed processes: failed, and their points queued again
        if cfg.sampler == "grid":
            _queue_grid(study, cfg)
        if not _work_left(study, cfg):
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


def unfinished(rows: list[dict]) -> list[dict]:
    """The points of ``point_rows`` whose last attempt failed: the next command runs them again (while they
    have attempts left). Points that another process is running are not among them."""
    return [r for r in point_rows(rows) if r["state"] == "FAIL"]


def _jsonable(cfg: SweepConfig) -> dict:
    out = asdict(cfg)
    out["storage"] = cfg.storage_url()
    return out


def sweep_rows(study) -> list[dict]:
    """One dict per trial: number, state, point, attempt (and whether it was a duplicate or had nothing to
    run), parameters, val / test / unseen-style mIoU, the test false-safe rate and best sites on Safe ground
    under the trial's Safe threshold, minutes, latency, and the error of a failed attempt."""
    rows = []
    for t in sorted(study.trials, key=lambda t: t.number):
        a = t.user_attrs
        rows.append({"trial": t.number, "state": t.state.name, **t.params, "point": a.get("point"),
                     "attempt": a.get("attempt", 1), "duplicate_of": a.get("duplicate_of"), "idle": bool(a.get("idle")),
                     "val_miou": t.value if t.value is not None else (max(t.intermediate_values.values())
                                                                      if t.intermediate_values else None),
                     "test_miou": a.get("test_miou"), "unseen_miou": a.get("unseen_miou"),
                     "safe_threshold": a.get("safe_threshold"), "test_false_safe": a.get("test_false_safe"),
                     "test_best_site_on_safe": a.get("test_best_site_on_safe"), "minutes": a.get("minutes"),
                     "latency_ms": a.get("latency_ms"), "out": a.get("out"), "error": a.get("error")})
    return rows


def point_rows(rows: list[dict]) -> list[dict]:
    """One row per point: its last attempt (duplicates and idle trials left out), with ``attempts``, the
    number of attempts it took."""
    by_point: dict = {}
    for r in rows:
        if r.get("duplicate_of") is not None or r.get("idle"):
            continue
        key = r.get("point") or r["trial"]
        by_point.setdefault(key, []).append(r)
    return [{**max(tries, key=lambda r: r["trial"]), "attempts": len(tries)} for tries in by_point.values()]


def sweep_table(rows: list[dict]) -> Table:
    """The results as a table (text, or HTML in a notebook), one row per point (its last attempt), best
    validation mIoU first; ``attempts`` says how many runs a point took."""
    def fmt(v, spec):
        return "-" if v is None or v != v else format(v, spec)

    ranked = sorted(point_rows(rows), key=lambda r: -(r["val_miou"] if r["state"] == "COMPLETE" else -1))
    return Table(["trial", "state", "attempts", "arch", "lr", "batch", "val mIoU", "test mIoU", "unseen mIoU",
                  "Safe >=", "test false-safe", "best site on Safe", "minutes", "ORT ms"],
                 [[str(r["trial"]), r["state"].lower(), str(r["attempts"]), str(r.get("arch", "-")),
                   fmt(r.get("lr"), ".0e"), str(r.get("batch_size", "-")), fmt(r["val_miou"], ".3f"),
                   fmt(r["test_miou"], ".3f"), fmt(r["unseen_miou"], ".3f"), fmt(r.get("safe_threshold"), ".3f"),
                   fmt(r.get("test_false_safe"), ".1%"), fmt(r.get("test_best_site_on_safe"), ".0%"),
                   fmt(r["minutes"], ".1f"), fmt(r["latency_ms"], ".1f")]
                  for r in ranked])


def pareto_front(rows: list[dict]) -> list[dict]:
    """Completed trials that no other trial beats on both validation mIoU (higher) and latency (lower)."""
    done = [r for r in point_rows(rows) if r["state"] == "COMPLETE" and r.get("latency_ms") is not None]
    return sorted((r for r in done if not any(o["val_miou"] >= r["val_miou"] and o["latency_ms"] <= r["latency_ms"]
                                             and (o["val_miou"], o["latency_ms"]) != (r["val_miou"], r["latency_ms"])
                                             for o in done)), key=lambda r: r["latency_ms"])


def text_color(background) -> str:
    """"black" or "white", whichever reads better on ``background`` (an RGB(A) colour, 0..1): black
    on light cells, white on dark ones, judged by the background's luminance (ITU-R BT.601 weights)."""
    r, g, b = (float(c) for c in tuple(background)[:3])
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b >= 0.5 else "white"


def plot_sweep(rows: list[dict], out: Path | None = None):
    """Two plots: validation mIoU against onnxruntime latency with the Pareto front, and a heat map
    of validation mIoU over learning rate x batch size per architecture. Saved in ``out`` if given."""
    import matplotlib.pyplot as plt
    import numpy as np

    rows = point_rows(rows)
    done = [r for r in rows if r["state"] == "COMPLETE"]
    archs = sorted({r["arch"] for r in done})
    fig, axes = plt.subplots(1, 1 + len(archs), figsize=(4.2 * (1 + len(archs)), 3.4), squeeze=False)
    axes = axes[0]
    ax = axes[0]
    timed = [r for r in done if r.get("latency_ms") is not None]
    for arch in archs:
        pts = [r for r in timed if r["arch"] == arch]
        ax.scatter([r["latency_ms"] for r in pts], [r["val_miou"] for r in pts], label=arch, s=30)
    front = pareto_front(rows)
    if front:
        ax.plot([r["latency_ms"] for r in front], [r["val_miou"] for r in front], "k--", lw=1, label="Pareto front")
    ax.set_xlabel("onnxruntime ms per 256x256 frame"); ax.set_ylabel("validation mIoU")
    ax.set_title("accuracy against speed"); ax.legend(fontsize=7)
    tried = [r for r in rows if r.get("arch") in archs and r["state"] in ("COMPLETE", "PRUNED")]
    lrs = sorted({r["lr"] for r in tried}, reverse=True)
    batches = sorted({r["batch_size"] for r in tried})
    cmap = plt.get_cmap("viridis").with_extremes(bad="0.88")  # light grey: pruned, or not run
    for ax, arch in zip(axes[1:], archs):
        grid = np.full((len(lrs), len(batches)), np.nan)
        labels = np.full(grid.shape, "not run", dtype=object)
        for r in tried:
            if r["arch"] == arch:
                cell = lrs.index(r["lr"]), batches.index(r["batch_size"])
                if r["state"] == "COMPLETE":
                    grid[cell], labels[cell] = r["val_miou"], f"{r['val_miou']:.3f}"
                else:
                    labels[cell] = "pruned"
        image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=min(r["val_miou"] for r in done),
                          vmax=max(r["val_miou"] for r in done))
        for (i, j), v in np.ndenumerate(grid):
            ax.text(j, i, labels[i, j], ha="center", va="center", fontsize=8,
                    color=text_color(cmap(image.norm(v)) if v == v else cmap.get_bad()))
        ax.set_xticks(range(len(batches)), batches); ax.set_yticks(range(len(lrs)), [f"{v:.0e}" for v in lrs])
        ax.set_xlabel("batch size"); ax.set_ylabel("stage-2 lr"); ax.set_title(f"{arch}: val mIoU")
    fig.tight_layout()
    if out is not None:
        fig.savefig(out / "sweep.png", dpi=90)
    return fig
