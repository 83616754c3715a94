"""`landinglib sweep`: a study that runs the grid, survives a kill, and can be shared by processes."""
import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from landinglib import sweep
from landinglib.__main__ import main


def _config(tmp_path, batch_sizes=(2, 4), **overrides):
    from landinglib.pipeline import PipelineConfig

    settings = dict(out=str(tmp_path / "sweep"), grid={"lr": [1e-3], "batch_size": list(batch_sizes), "arch": ["ultra-fast"]},
                    base=PipelineConfig.fast(size=64, crop=64, unseen=False), epochs1=1, epochs2=2, latency=False,
                    heartbeat_s=1, grace_s=2)
    return sweep.SweepConfig(**{**settings, **overrides})


def test_a_two_trial_grid_runs_once_and_a_second_call_finds_nothing_left(tmp_path):
    cfg = _config(tmp_path, latency=True)
    rows = sweep.run_sweep(cfg, say=lambda line: None)
    assert [r["state"] for r in rows] == ["COMPLETE", "COMPLETE"]
    assert sorted(r["batch_size"] for r in rows) == [2, 4] and all(0 <= r["val_miou"] <= 1 for r in rows)
    assert all(r["latency_ms"] > 0 and r["test_miou"] is not None for r in rows)
    assert (tmp_path / "sweep" / "trial-000" / "stage2" / "best.pt").is_file()
    saved = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert len(saved["trials"]) == 2 and (tmp_path / "sweep" / "sweep.png").is_file()
    assert len(sweep.run_sweep(cfg, say=lambda line: None)) == 2  # resumed: the grid is done, nothing runs again
    reported = [sorted(t.intermediate_values) for t in sweep.open_study(cfg).trials]
    assert reported == [[1, 2], [1, 2]]  # validation mIoU after each stage-2 epoch: what the pruner judges


RUNNER = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from landinglib import pipeline, sweep
    out, mode = sys.argv[1], sys.argv[2]
    if mode == "die-in-second-trial":
        real_run = pipeline.run
        def run(cfg, **kw):
            if cfg.out.endswith("trial-001"):
                os.kill(os.getpid(), signal.SIGKILL)  # as a power cut or an OOM kill would
            return real_run(cfg, **kw)
        sweep.run = run
    cfg = sweep.SweepConfig(out=out, grid={"lr": [1e-3], "batch_size": [int(b) for b in sys.argv[3].split(",")],
                                           "arch": ["ultra-fast"]},
                            base=pipeline.PipelineConfig.fast(size=64, crop=64, unseen=False), epochs1=1, epochs2=1,
                            latency=False, heartbeat_s=1, grace_s=2)
    sweep.run_sweep(cfg)
""")


def _runner(tmp_path, mode, batches):
    env = dict(os.environ, OMP_NUM_THREADS="1", LANDINGLIB_FAST="1")
    return subprocess.Popen([sys.executable, "-c", RUNNER, str(tmp_path / "sweep"), mode, batches], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_killed_sweep_resumes_and_retries_the_killed_trial_with_its_parameters(tmp_path):
    killed = _runner(tmp_path, "die-in-second-trial", "2,4")
    killed.communicate(timeout=300)
    assert killed.returncode == -9
    time.sleep(3)  # longer than the grace period: the trial's heartbeat has stopped
    rows = sweep.run_sweep(_config(tmp_path, epochs2=1), say=lambda line: None)
    states = {r["trial"]: r["state"] for r in rows}
    assert states == {0: "COMPLETE", 1: "FAIL", 2: "COMPLETE"}
    assert rows[2]["batch_size"] == rows[1]["batch_size"] != rows[0]["batch_size"]  # the same grid point again
    assert rows[2]["out"].endswith("trial-001")  # in the killed trial's folder (its checkpoints resume)


def test_two_processes_share_one_study_without_running_a_grid_point_twice(tmp_path):
    runners = [_runner(tmp_path, "share", "2,3,4,5") for _ in range(2)]
    for r in runners:
        _, err = r.communicate(timeout=600)
        assert r.returncode == 0, err[-2000:]
    rows = sweep.sweep_rows(sweep.open_study(_config(tmp_path, batch_sizes=(2, 3, 4, 5))))
    assert len(rows) == 4 and {r["state"] for r in rows} <= {"COMPLETE", "PRUNED"}  # the median pruner may stop one
    assert sorted(r["batch_size"] for r in rows) == [2, 3, 4, 5]  # every grid point once: none twice, none lost


def test_table_and_pareto_front_rank_by_validation_and_latency():
    rows = [{"trial": 0, "state": "COMPLETE", "arch": "fast", "lr": 1e-3, "batch_size": 4, "val_miou": 0.5,
             "test_miou": 0.4, "unseen_miou": 0.3, "minutes": 1.0, "latency_ms": 4.0},
            {"trial": 1, "state": "COMPLETE", "arch": "ultra-fast", "lr": 1e-3, "batch_size": 4, "val_miou": 0.6,
             "test_miou": 0.5, "unseen_miou": 0.4, "minutes": 1.0, "latency_ms": 15.0},
            {"trial": 2, "state": "COMPLETE", "arch": "ultra-fast", "lr": 1e-4, "batch_size": 8, "val_miou": 0.45,
             "test_miou": 0.4, "unseen_miou": 0.3, "minutes": 1.0, "latency_ms": 16.0},
            {"trial": 3, "state": "PRUNED", "arch": "fast", "lr": 1e-4, "batch_size": 8, "val_miou": 0.2,
             "test_miou": None, "unseen_miou": None, "minutes": None, "latency_ms": None}]
    assert [r["trial"] for r in sweep.pareto_front(rows)] == [0, 1]  # 2 is slower and worse than 1
    table = sweep.sweep_table(rows)
    assert [row[0] for row in table.rows] == ["1", "0", "2", "3"] and "pruned" in table
    fig = sweep.plot_sweep(rows)
    assert len(fig.axes) >= 3  # accuracy against speed, then one heat map per architecture


def test_sweep_settings_are_checked_before_anything_runs(tmp_path, capsys):
    with pytest.raises(ValueError, match="TPE search needs a number"):
        sweep.SweepConfig(sampler="tpe")
    with pytest.raises(ValueError, match="unknown architecture"):
        sweep.SweepConfig(grid={"lr": [1e-3], "batch_size": [4], "arch": ["huge"]})
    cfg = sweep.trial_config(_config(tmp_path), 7, {"lr": 5e-4, "batch_size": 8, "arch": "fast"})
    assert (cfg.lr2, cfg.lr1, cfg.batch_size, cfg.arch) == (5e-4, 1e-3, 8, "fast") and cfg.out.endswith("trial-007")
    assert main(["sweep", "--fast", "--stage2-data", str(tmp_path / "missing"), "--out", str(tmp_path / "s")]) == 2


def test_opening_a_database_another_process_is_creating_retries(tmp_path, monkeypatch):
    """Seen in CI: two sweep processes started together both wrote the schema of the new SQLite file, and the second
    stopped with 'UNIQUE constraint failed: alembic_version'. It now waits and opens the finished database."""
    import optuna.storages
    from sqlalchemy.exc import IntegrityError

    real, calls = optuna.storages.RDBStorage, []

    def racing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise IntegrityError("INSERT INTO alembic_version", {}, Exception("UNIQUE constraint failed"))
        return real(*args, **kwargs)

    monkeypatch.setattr(optuna.storages, "RDBStorage", racing)
    monkeypatch.setattr(sweep.time, "sleep", lambda s: None)
    cfg = sweep.SweepConfig(out=str(tmp_path / "s"))
    (tmp_path / "s").mkdir()
    storage, _ = sweep._storage(cfg)
    assert len(calls) == 2 and storage is not None
    calls.clear()
    monkeypatch.setattr(optuna.storages, "RDBStorage", lambda *a, **k: (_ for _ in ()).throw(
        IntegrityError("INSERT", {}, Exception("still failing"))))
    with pytest.raises(IntegrityError):
        sweep._storage(cfg)
