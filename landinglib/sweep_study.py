"""Where a sweep's study lives, and how several processes share it without losing or repeating a point.

The study is an Optuna database (SQLite by default; PostgreSQL with ``pip install "landinglib[postgres]"``;
any URL Optuna accepts). Every grid point is queued as a waiting trial that the database hands to one
process (``queue_grid``); a trial whose process died stops sending heartbeats and is queued again
(``_retry_stale``), and a trial that raised is queued again by the next command (``requeue_failed``), up
to ``MAX_ATTEMPTS`` attempts in all, with the same parameters and in the same folder.
"""
from __future__ import annotations

import contextlib
import time
import warnings

from .sweep_space import SweepConfig, grid_points, point_of

STORAGE_ATTEMPTS = 5
"""Tries to open the study database (see ``_storage``)."""
MAX_ATTEMPTS = 3
"""A grid point (or TPE trial) that fails is run again until it has had this many attempts."""
POSTGRES_HINT = 'pip install "landinglib[postgres]"'
"""What installs the PostgreSQL driver (psycopg 3) that ``postgresql://`` URLs need."""


@contextlib.contextmanager
def quiet_experimental():
    """Optuna marks its heartbeat API "experimental" at every use; that warning is not news to a learner."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


def _storage(cfg: SweepConfig):
    """The study's database (heartbeats on, dead trials queued again) and the optuna module. A database that
    another process is creating at the same moment is opened again, up to ``STORAGE_ATTEMPTS`` tries."""
    import optuna
    from optuna.storages import RDBStorage
    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

    url = cfg.storage_url()
    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}  # several processes wait their turn
    for attempt in range(STORAGE_ATTEMPTS):
        try:
            with quiet_experimental():
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


def holds_point(t) -> bool:
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


def requeue_failed(study) -> None:
    """Queue again every failed trial whose point has no later attempt, until it has had ``MAX_ATTEMPTS``."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    for t in trials:
        if t.state != TrialState.FAIL or not t.params or t.user_attrs.get("attempt", 1) >= MAX_ATTEMPTS:
            continue
        point = t.user_attrs.get("point") or point_of(t.params)
        if not any(u.number > t.number and u.user_attrs.get("point") == point for u in trials):
            _queue_attempt(study, t, t.user_attrs.get("attempt", 1) + 1)


def queue_grid(study, cfg: SweepConfig) -> None:
    """Queue every grid point that has no trial yet as a waiting trial (the database hands each to one process)."""
    have = {t.user_attrs.get("point") for t in study.get_trials(deepcopy=False)}
    for params in grid_points(cfg):
        point = point_of(params)
        if point not in have:
            study.enqueue_trial(params, user_attrs={"point": point, "attempt": 1})


def work_left(study, cfg: SweepConfig) -> bool:
    """Whether this process should start another trial: a queued trial is waiting (a grid point, or a retry);
    a TPE search always has more to try. Points that other processes are running are theirs."""
    from optuna.trial import TrialState

    if cfg.sampler != "grid":
        return True
    return any(t.state == TrialState.WAITING for t in study.get_trials(deepcopy=False))
