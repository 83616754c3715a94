from landinglib import synthetic
from landinglib.__main__ import main


def test_data_command_prints_what_it_generated(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LANDINGLIB_DATA", str(tmp_path))
    monkeypatch.setitem(synthetic.FAST_SETTINGS, "udd6", dict(n_train=2, n_val=2, size=(64, 128)))
    monkeypatch.setitem(synthetic.FAST_SETTINGS, "dronedeploy", dict(n_scenes=4, size=(300, 300)))
    assert main(["data", "--fast", "--chip-size", "128"]) == 0
    out = capsys.readouterr().out
    assert "generated built-in dronedeploy data" in out and "generated built-in udd6 data" in out
    assert "udd6         train       2  frames" in out
    assert "landing class" in out


def test_data_command_reports_errors_without_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(synthetic, "ensure_builtin", lambda *a, **k: tmp_path / "missing")
    assert main(["data"]) == 2
    assert "error:" in capsys.readouterr().err
