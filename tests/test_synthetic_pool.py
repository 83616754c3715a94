"""Worker processes (``landinglib.synthetic.pool``): they write what one process writes, and none start when
``LANDINGLIB_WORKERS=0``."""
import pytest

from landinglib import synthetic

from .test_synthetic_write import dataset_files


def test_parallel_generation_matches_serial(tmp_path):
    serial = dataset_files(synthetic.generate(tmp_path / "s", "udd6", n_train=4, n_val=1, size=(64, 128), workers=1))
    parallel = dataset_files(synthetic.generate(tmp_path / "p", "udd6", n_train=4, n_val=1, size=(64, 128), workers=2))
    assert serial == parallel


def test_no_worker_processes_draws_the_scenes_in_this_process(tmp_path, monkeypatch):
    """LANDINGLIB_WORKERS=0: nothing is forked (e.g. under a mutation tester, or where processes cannot start)."""
    from landinglib.synthetic import pool

    def refuse(*args, **kwargs):
        raise AssertionError("a process pool was started")

    monkeypatch.setattr(pool, "ProcessPoolExecutor", refuse)
    monkeypatch.setenv("LANDINGLIB_WORKERS", "0")
    root = synthetic.generate(tmp_path / "u", "udd6", 0, n_train=4, n_val=1, size=(96, 128))
    assert len(list((root / "train" / "src").iterdir())) == 4
    monkeypatch.setenv("LANDINGLIB_WORKERS", "2")
    with pytest.raises(AssertionError, match="process pool"):
        synthetic.generate(tmp_path / "v", "udd6", 0, n_train=4, n_val=1, size=(96, 128))
