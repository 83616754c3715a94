"""`landinglib sweep`: a study that runs the grid, survives a kill, and can be shared by processes; it chooses on
validation, never on test."""
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from landinglib import sweep


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
    said = []
    assert len(sweep.run_sweep(cfg, say=said.append)) == 2  # resumed: the grid is done, nothing runs again
    assert said[0] == f"study 'landing' in {Path(cfg.out) / 'study.db'} (grid): 2 trial(s) so far"
    reported = [sorted(t.intermediate_values) for t in sweep.open_study(cfg).trials]
    assert reported == [[1, 2], [1, 2]]  # validation mIoU after each stage-2 epoch: what the pruner judges


def test_the_names_the_course_imports_from_sweep_still_resolve():
    """The command, notebook 07 and the README use these from ``landinglib.sweep``."""
    from landinglib import sweep_results, sweep_space, sweep_study

    assert sweep.SweepConfig is sweep_space.SweepConfig and sweep.GRID is sweep_space.GRID
    assert sweep.MAX_ATTEMPTS == sweep_study.MAX_ATTEMPTS and sweep.open_study is sweep_study.open_study
    assert sweep.sweep_table is sweep_results.sweep_table and sweep.plot_sweep is sweep_results.plot_sweep
    assert all(hasattr(sweep, name) for name in sweep.__all__)


RUNNER = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from landinglib import pipeline, sweep
    out, mode = sys.argv[1], sys.argv[2]
    real_run = pipeline.run
    if mode == "die-in-second-trial":
        def run(cfg, **kw):
            if cfg.out.endswith("trial-001"):
                os.kill(os.getpid(), signal.SIGKILL)  # as a power cut or an OOM kill would
            return real_run(cfg, **kw)
        sweep.run = run
    if mode == "raise-in-second-trial":
        def run(cfg, **kw):
            if cfg.out.endswith("trial-001"):
                raise RuntimeError("the disk is full")  # as a transient error would
            return real_run(cfg, **kw)
        sweep.run = run
    cfg = sweep.SweepConfig(out=out, grid={"lr": [1e-3], "batch_size": [int(b) for b in sys.argv[3].split(",")],
                                           "arch": ["ultra-fast"]},
                            base=pipeline.PipelineConfig.fast(size=64, crop=64, unseen=False), epochs1=1, epochs2=1,
                            latency=False, heartbeat_s=1, grace_s=2 if mode == "die-in-second-trial" else 60)
    rows = sweep.run_sweep(cfg)
    sys.exit(1 if sweep.unfinished(rows) else 0)
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


def test_a_trial_that_raises_is_run_again_by_the_next_command_in_its_folder(tmp_path):
    first = _runner(tmp_path, "raise-in-second-trial", "2,4")
    out, _ = first.communicate(timeout=300)
    assert first.returncode == 1  # a grid point has no result yet: the command says so
    rows = sweep.sweep_rows(sweep.open_study(_config(tmp_path)))
    assert [(r["state"], r["attempt"]) for r in rows] == [("COMPLETE", 1), ("FAIL", 1)]
    assert rows[1]["error"] == "RuntimeError: the disk is full" and sweep.unfinished(rows)[0]["batch_size"] == 4
    rows = sweep.run_sweep(_config(tmp_path, epochs2=1), say=lambda line: None)  # the same command again
    assert [(r["state"], r["attempt"]) for r in rows] == [("COMPLETE", 1), ("FAIL", 1), ("COMPLETE", 2)]
    assert rows[2]["batch_size"] == 4 and rows[2]["out"].endswith("trial-001") and not sweep.unfinished(rows)
    table = sweep.sweep_table(rows)
    assert [row[2] for row in table.rows] == ["1", "2"] or [row[2] for row in table.rows] == ["2", "1"]  # attempts


def test_a_point_the_pipeline_refuses_fails_with_its_reason_and_the_base_recipe_still_shortens(tmp_path, monkeypatch):
    """A trial shortens the base recipe's epochs: the base's own probe length must not outlive that
    (it is recomputed), and a point the pipeline refuses records why instead of an empty error."""
    from landinglib.pipeline import PipelineConfig

    ran = []
    monkeypatch.setattr(sweep, "run", lambda cfg, **kw: ran.append(cfg) or (_ for _ in ()).throw(RuntimeError("stop")))
    sweep.run_sweep(_config(tmp_path, batch_sizes=(2,), base=PipelineConfig(epochs1=12, epochs2=24)), say=lambda l: None)
    assert (ran[0].epochs1, ran[0].epochs2) == (1, 2)  # the trial's epochs, and no probe as long as them
    bad = _config(tmp_path / "bad", batch_sizes=(2,), base=PipelineConfig.fast(epochs2=4, probe2=3))
    rows = sweep.run_sweep(bad, say=lambda l: None)
    assert rows[0]["state"] == "FAIL" and "classifier-only epochs must be fewer" in rows[0]["error"]


def test_a_trial_another_process_ended_while_it_ran_does_not_end_this_process(tmp_path, monkeypatch):
    """On an overloaded machine a trial's heartbeat can be late: another process marks it failed and queues its
    point again, and optuna then refuses this process's result ("Cannot tell a FAIL trial"). The process goes on."""
    import optuna

    real, calls = optuna.study.Study.optimize, []

    def late_once(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("Cannot tell a FAIL trial.")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(optuna.study.Study, "optimize", late_once)
    monkeypatch.setattr(sweep, "run", lambda cfg, **kw: (_ for _ in ()).throw(optuna.TrialPruned("stop")))
    said = []
    rows = sweep.run_sweep(_config(tmp_path, batch_sizes=(2,)), say=said.append)
    assert len(calls) == 2 and rows[0]["state"] == "PRUNED"
    assert any("ended by another process" in line for line in said)
    monkeypatch.setattr(optuna.study.Study, "optimize", lambda self, *a, **k: (_ for _ in ()).throw(ValueError("other")))
    with pytest.raises(ValueError, match="other"):  # any other error still ends the command
        sweep.run_sweep(_config(tmp_path / "b", batch_sizes=(2,)), say=said.append)


def test_a_point_is_tried_at_most_max_attempts_times(tmp_path, monkeypatch):
    calls = []

    def failing(cfg, **kw):
        calls.append(cfg.out)
        raise RuntimeError("broken data")

    monkeypatch.setattr(sweep, "run", failing)
    cfg = _config(tmp_path, batch_sizes=(2,))
    for _ in range(sweep.MAX_ATTEMPTS + 2):
        rows = sweep.run_sweep(cfg, say=lambda line: None)
    assert len(calls) == sweep.MAX_ATTEMPTS and set(calls) == {str(tmp_path / "sweep" / "trial-000")}
    left = sweep.unfinished(rows)
    assert len(left) == 1 and left[0]["attempts"] == sweep.MAX_ATTEMPTS and left[0]["state"] == "FAIL"


def test_a_point_queued_twice_runs_once_the_lower_trial_number_wins(tmp_path, monkeypatch):
    """Two processes starting together may both queue a grid point: the first trial of it runs, the other
    ends at once as a duplicate."""
    import optuna

    ran = []
    monkeypatch.setattr(sweep, "run", lambda cfg, **kw: ran.append(cfg.out) or (_ for _ in ()).throw(
        optuna.TrialPruned("stop here")))
    cfg = _config(tmp_path, batch_sizes=(2,))
    (tmp_path / "sweep").mkdir()
    study = sweep.open_study(cfg)
    for _ in range(2):  # what two processes starting together would each do
        study.enqueue_trial({"lr": 1e-3, "batch_size": 2, "arch": "ultra-fast"},
                            user_attrs={"point": sweep.point_of({"lr": 1e-3, "batch_size": 2, "arch": "ultra-fast"}),
                                        "attempt": 1})
    rows = sweep.run_sweep(cfg, say=lambda line: None)
    assert len(ran) == 1 and [r["duplicate_of"] for r in rows] == [None, 0]


def test_two_processes_share_one_study_without_running_a_grid_point_twice(tmp_path):
    runners = [_runner(tmp_path, "share", "2,3,4,5") for _ in range(2)]
    for r in runners:
        _, err = r.communicate(timeout=600)
        assert r.returncode == 0, err[-2000:]
    rows = sweep.sweep_rows(sweep.open_study(_config(tmp_path, batch_sizes=(2, 3, 4, 5))))
    _every_point_done_exactly_once(rows, [2, 3, 4, 5])


def _every_point_done_exactly_once(rows, batch_sizes):
    """Each grid point has exactly one trial that ran it (the median pruner may stop one early); the other
    trials of the study are duplicates that ended at once, or had nothing to run."""
    ran = [r for r in rows if r["duplicate_of"] is None and not r["idle"]]
    assert {r["state"] for r in ran} <= {"COMPLETE", "PRUNED"}, ran
    assert sorted(r["batch_size"] for r in ran) == sorted(batch_sizes)  # every grid point once: none twice, none lost
    assert all(r["minutes"] is None for r in rows if r not in ran)  # a duplicate trains nothing


def _postgres_bin() -> Path | None:
    """The folder of PostgreSQL's server programs (Debian keeps them out of PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    return Path(shutil.which("initdb")).parent if shutil.which("initdb") else None


@pytest.fixture
def postgres_url():
    """A real PostgreSQL server on a free port of 127.0.0.1, in a folder of its own, for this test only."""
    bin_dir = _postgres_bin()
    if bin_dir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL's server programs are missing: .ci/run installs Debian's postgresql package")
        pytest.skip("PostgreSQL is not installed here (apt-get install postgresql); CI installs and runs it")
    folder = Path(tempfile.mkdtemp(prefix="landinglib-pg-"))  # not under pytest's 0700 folder: the server reads it
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []  # initdb refuses to run as root
    if as_postgres:
        shutil.chown(folder, "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    def pg(program, *args):
        subprocess.run([*as_postgres, str(bin_dir / program), *args], check=True, capture_output=True, timeout=120)

    pg("initdb", "-D", str(folder / "data"), "-U", "landing", "-A", "trust", "--no-sync")
    pg("pg_ctl", "-D", str(folder / "data"), "-l", str(folder / "log"), "-w", "start",
       "-o", f"-p {port} -c listen_addresses=127.0.0.1 -k {folder}")
    try:
        pg("createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "landing", "sweep")
        yield f"postgresql://landing@127.0.0.1:{port}/sweep"
    finally:
        pg("pg_ctl", "-D", str(folder / "data"), "-m", "immediate", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def test_two_sweep_commands_share_a_real_postgresql_study_on_a_fresh_data_folder(tmp_path, postgres_url):
    """The README's distributed search, for real: two `landinglib sweep` processes with one --storage, started
    together on a machine whose built-in data does not exist yet. Both finish; every grid point runs once."""
    env = dict(os.environ, OMP_NUM_THREADS="1", LANDINGLIB_FAST="1", LANDINGLIB_DATA=str(tmp_path / "data"))
    command = [sys.executable, "-m", "landinglib", "sweep", "--fast", "--storage", postgres_url, "--study", "shared",
               "--arch", "ultra-fast", "--lr", "1e-3", "--batch-size", "2", "3", "4", "--epochs1", "1", "--epochs2", "1",
               "--no-latency", "--no-prune", "--out", str(tmp_path / "sweep")]
    processes = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
    outputs = [p.communicate(timeout=900) for p in processes]
    for p, (out, err) in zip(processes, outputs):
        assert p.returncode == 0, out[-2000:] + err[-3000:]
    drawn = sum("generated built-in udd6 data" in out for out, _ in outputs)
    assert drawn == 1  # one process drew the built-in data, the other waited for it
    from landinglib.pipeline import PipelineConfig

    cfg = sweep.SweepConfig(out=str(tmp_path / "sweep"), study="shared", storage=postgres_url,
                            grid={"lr": [1e-3], "batch_size": [2, 3, 4], "arch": ["ultra-fast"]},
                            base=PipelineConfig.fast(), latency=False)
    _every_point_done_exactly_once(sweep.sweep_rows(sweep.open_study(cfg)), [2, 3, 4])


# --- issue 28: the sweep chooses on validation, never on test ------------------------------------------
def test_a_trial_returns_and_reports_validation_miou_never_test(tmp_path, monkeypatch):
    """With a stubbed pipeline whose validation and test scores disagree, each trial's value is its best stage-2
    validation mIoU, the pruner sees stage-2 validation mIoU after each epoch, and the best trial is the one that
    validates best; test mIoU is only recorded beside it."""
    from landinglib.pipeline import StageResult

    scores = {2: {"stage1": (0.9, 0.95), "epochs": [0.5, 0.6, 0.4], "test": 0.1},  # best on validation, worst on test
              4: {"stage1": (0.05, 0.01), "epochs": [0.2, 0.3, 0.25], "test": 0.8}}

    def stub(cfg, resume=False, on_epoch=None):
        s = scores[cfg.batch_size]
        for epoch in (1, 2):
            on_epoch(1, epoch, {"epoch": epoch, "val_miou": s["stage1"][0]})
        for epoch, val in enumerate(s["epochs"], 1):
            on_epoch(2, epoch, {"epoch": epoch, "val_miou": val})
        common = dict(seconds=1.0, val_loss=0.5, test_iou=[], class_names=[], checkpoint="")
        return [StageResult("stage 1", 2, val_miou=s["stage1"][0], test_miou=s["stage1"][1], **common),
                StageResult("stage 2", 3, val_miou=max(s["epochs"]), test_miou=s["test"], **common)]

    monkeypatch.setattr(sweep, "run", stub)
    cfg = _config(tmp_path)
    rows = sorted(sweep.run_sweep(cfg, say=lambda line: None), key=lambda r: r["batch_size"])
    assert [r["state"] for r in rows] == ["COMPLETE", "COMPLETE"]
    assert [(r["val_miou"], r["test_miou"]) for r in rows] == [(0.6, 0.1), (0.3, 0.8)]
    study = sweep.open_study(cfg)
    assert study.best_trial.params["batch_size"] == 2 and study.best_value == 0.6
    for t in study.trials:  # what the median pruner judges: stage 2's validation mIoU, epoch by epoch
        assert t.intermediate_values == dict(enumerate(scores[t.params["batch_size"]]["epochs"], 1))
    assert [row[5] for row in sweep.sweep_table(rows).rows] == ["2", "4"]  # ranked by validation
