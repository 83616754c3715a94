"""Datasets drawn once (``landinglib.synthetic.cache``): reused while complete, never left half drawn, drawn by
one process while another waits."""
import os

import pytest

from landinglib import synthetic


def test_generate_reuses_complete_data_and_leaves_no_partial_folder(tmp_path):
    small = dict(n_train=1, n_val=1, size=(64, 128), workers=1)
    root = synthetic.generate(tmp_path / "u", "udd6", **small)
    stamp = (root / "GENERATED.json").read_text()
    synthetic.generate(tmp_path / "u", "udd6", **small)
    assert (root / "GENERATED.json").read_text() == stamp  # not regenerated
    synthetic.generate(tmp_path / "u", "udd6", **{**small, "n_val": 2})
    assert len(list((root / "val" / "src").glob("*.JPG"))) == 2  # settings changed: regenerated
    assert not (tmp_path / "u.partial").exists()


def test_two_processes_generating_the_built_in_data_at_once_both_succeed_and_draw_it_once(tmp_path):
    """Two notebooks (or two sweep processes) opened at once on a fresh machine: one draws, the other waits for
    it; the files are those a single process writes."""
    import subprocess
    import sys

    script = "from landinglib import synthetic; synthetic.ensure_builtin('udd6'); synthetic.ensure_builtin('dronedeploy')"

    def start(folder):
        env = dict(os.environ, LANDINGLIB_FAST="1", LANDINGLIB_DATA=str(folder), OMP_NUM_THREADS="1")
        return subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)

    together = [start(tmp_path / "shared") for _ in range(2)]
    outputs = [p.communicate(timeout=600) for p in together]
    for p, (out, err) in zip(together, outputs):
        assert p.returncode == 0, err[-3000:]
    for style in ("udd6", "dronedeploy"):
        assert sum(f"generated built-in {style} data" in out for out, _ in outputs) == 1  # drawn once
    alone = start(tmp_path / "alone")
    assert alone.wait(timeout=600) == 0
    shared, single = tmp_path / "shared" / "synthetic" / "fast", tmp_path / "alone" / "synthetic" / "fast"
    def data_files(folder):  # GENERATED.json holds timings, a .lock file is the lock's own
        return sorted(p.relative_to(folder) for p in folder.rglob("*")
                      if p.is_file() and p.name != "GENERATED.json" and p.suffix != ".lock")

    names = data_files(single)
    assert names and names == data_files(shared)
    for name in names:
        assert (shared / name).read_bytes() == (single / name).read_bytes(), name
    assert not list(shared.glob("*.partial"))  # nothing half-drawn left behind


def test_an_interrupted_generation_leaves_no_half_dataset_and_the_next_run_completes_it(tmp_path, monkeypatch):
    from landinglib.synthetic import write

    calls = []
    real = write.pool_map

    def dying(fn, jobs, workers):
        calls.append(len(jobs))
        raise KeyboardInterrupt  # as a participant pressing Stop would

    monkeypatch.setattr(write, "pool_map", dying)
    with pytest.raises(KeyboardInterrupt):
        synthetic.generate(tmp_path / "udd6", "udd6", n_train=2, n_val=1, size=(64, 96))
    assert not (tmp_path / "udd6").exists() and calls
    monkeypatch.setattr(write, "pool_map", real)
    root = synthetic.generate(tmp_path / "udd6", "udd6", n_train=2, n_val=1, size=(64, 96))
    assert (root / "GENERATED.json").is_file() and len(list((root / "train" / "src").iterdir())) == 2
