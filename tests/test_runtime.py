"""runtime: fast mode, where data lives, worker counts, the cross-process lock, atomic writes."""
import os
import threading

import numpy as np
import pytest

from landinglib import runtime

from .conftest import error_message


@pytest.mark.parametrize("value,fast", [("1", True), ("yes", True), ("0", False), ("false", False), ("", False)])
def test_fast_mode_reads_the_environment(monkeypatch, value, fast):
    monkeypatch.setenv("LANDINGLIB_FAST", value)
    assert runtime.fast_mode() is fast


def test_data_and_pretrained_folders_follow_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LANDINGLIB_DATA", str(tmp_path / "d"))
    monkeypatch.delenv("LANDINGLIB_PRETRAINED", raising=False)
    assert runtime.data_dir() == tmp_path / "d"
    assert runtime.pretrained_dir() == runtime.PACKAGE_DIR.parent / "data" / "pretrained"  # shipped with the checkout
    monkeypatch.setenv("LANDINGLIB_PRETRAINED", str(tmp_path / "p"))
    assert runtime.pretrained_dir() == tmp_path / "p"


def test_workers_come_from_the_environment_or_leave_a_core(monkeypatch):
    monkeypatch.setenv("LANDINGLIB_WORKERS", "3")
    assert runtime.default_workers() == 3
    monkeypatch.setenv("LANDINGLIB_WORKERS", "two")
    assert "whole number" in error_message(runtime.default_workers, ValueError)
    monkeypatch.delenv("LANDINGLIB_WORKERS")
    assert 0 <= runtime.default_workers() <= 4


def test_write_atomic_writes_bytes_text_or_through_a_function_and_creates_the_folder(tmp_path):
    assert runtime.write_atomic(tmp_path / "a" / "b.bin", b"\x00\x01").read_bytes() == b"\x00\x01"
    assert runtime.write_atomic(tmp_path / "t.txt", "héllo").read_text(encoding="utf-8") == "héllo"
    runtime.write_atomic(tmp_path / "x.npy", lambda f: np.save(f, np.arange(3)))
    assert np.load(tmp_path / "x.npy").tolist() == [0, 1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "t.txt", "x.npy"]  # no temporary file left


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path):
    target = runtime.write_atomic(tmp_path / "keep.txt", "old")

    def half_then_fail(f):
        f.write(b"new, half")
        raise OSError("disk full")

    assert error_message(lambda: runtime.write_atomic(target, half_then_fail), OSError) == "disk full"
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["keep.txt"]


def test_exclusive_lets_one_holder_in_at_a_time_and_says_once_that_it_waits(tmp_path, capsys):
    inside, order = threading.Event(), []

    def hold():
        with runtime.exclusive(tmp_path / "data", "the data"):
            order.append("first in")
            inside.set()
            release.wait(5)
            order.append("first out")

    release = threading.Event()
    first = threading.Thread(target=hold)
    first.start()
    inside.wait(5)
    threading.Timer(0.3, release.set).start()
    with runtime.exclusive(tmp_path / "data", "the data"):
        order.append("second in")
    first.join()
    assert order == ["first in", "first out", "second in"]
    assert capsys.readouterr().out == "waiting for another process that is preparing the data ...\n"
