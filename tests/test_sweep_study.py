"""The sweep's study: opening its database (drivers, two processes creating it at once)."""
import pytest

from landinglib import sweep_study
from landinglib.__main__ import main
from landinglib.sweep_space import SweepConfig


def test_a_postgresql_url_without_its_driver_names_the_extra_to_install(tmp_path, monkeypatch, capsys):
    import builtins

    real_import = builtins.__import__

    def no_psycopg(name, globals=None, locals=None, fromlist=(), level=0):
        # the drivers are missing; SQLAlchemy's own dialect modules of the same names (imported relatively) are not
        if level == 0 and name.split(".")[0] in ("psycopg", "psycopg2"):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return real_import(name, globals, locals, fromlist, level)

    monkeypatch.setattr(builtins, "__import__", no_psycopg)
    url = "postgresql://landing@127.0.0.1:1/nothing"
    assert main(["sweep", "--fast", "--storage", url, "--out", str(tmp_path / "s"), "--no-latency"]) == 2
    err = capsys.readouterr().err
    assert 'pip install "landinglib[postgres]"' in err and url in err


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
    monkeypatch.setattr(sweep_study.time, "sleep", lambda s: None)
    cfg = SweepConfig(out=str(tmp_path / "s"))
    (tmp_path / "s").mkdir()
    storage, _ = sweep_study._storage(cfg)
    assert len(calls) == 2 and storage is not None
    calls.clear()
    monkeypatch.setattr(optuna.storages, "RDBStorage", lambda *a, **k: (_ for _ in ()).throw(
        IntegrityError("INSERT", {}, Exception("still failing"))))
    with pytest.raises(IntegrityError):
        sweep_study._storage(cfg)

