"""benchmarks/results.py: each benchmark's output goes into its own section of RESULTS.md; other sections stay."""
import importlib.util
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_results", ROOT / "benchmarks" / "results.py")
results = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(results)


def script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(f"import sys\n{body}\n")
    return path


def test_a_section_is_replaced_in_place_and_the_others_are_kept_word_for_word():
    text = ("# Results\n\nintro\n\n## make train\n\nrecorded by hand\n\n## train_speed.py\n\n```text\nold\n```\n\n"
            "## make mutation\n\n96 %\n")
    new = results.section("train_speed.py", "python benchmarks/train_speed.py", "2026-12-06", "CPU: X", "fresh\n")
    out = results.replace_section(text, "train_speed.py", new)
    assert out.index("## make train") < out.index("## train_speed.py") < out.index("## make mutation")
    assert "old" not in out and "```text\nfresh\n```" in out and out.count("## train_speed.py") == 1
    assert "recorded by hand" in out and "96 %" in out and out.startswith("# Results\n\nintro\n")
    assert results.replace_section(out, "train_speed.py", new) == out  # stable
    appended = results.replace_section(text, "data_throughput.py", new.replace("train_speed", "data_throughput"))
    assert appended.rstrip().endswith("```") and "## data_throughput.py" in appended and "old" in appended


def test_a_heading_inside_a_benchmarks_output_does_not_start_a_section():
    text = results.section("a.py", "python a.py", "2026-12-06", "CPU: X", "## not a heading\nfigure 1")
    head, sections = results.split_sections("# Results\n\n" + text)
    assert [title for title, _ in sections] == ["a.py"] and "## not a heading" in sections[0][1]


def test_each_benchmark_gets_a_section_with_its_command_date_machine_and_output(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(results, "machine", lambda: "CPU: test machine")
    out = tmp_path / "RESULTS.md"
    out.write_text("# Results\n\n## make train\n\nkept\n")
    a = script(tmp_path, "a.py", 'print("figure", sys.argv[1:]); print("progress", file=sys.stderr)')
    b = script(tmp_path, "b.py", 'print("b figure")')
    assert results.main(["--out", str(out), f"{a} --steps 2", str(b)]) == 0
    text = out.read_text()
    head, sections = results.split_sections(text)
    assert [title for title, _ in sections] == ["make train", "a.py", "b.py"]
    a_section = dict(sections)["a.py"]
    assert f"`python {a} --steps 2` · " in a_section and "· CPU: test machine" in a_section
    assert "figure ['--steps', '2']" in a_section and "progress" not in text  # stdout recorded, stderr only shown
    assert "figure ['--steps', '2']" in capsys.readouterr().out  # and shown as it comes


def test_a_failing_benchmark_stops_the_run_and_leaves_its_section_alone(tmp_path, monkeypatch):
    monkeypatch.setattr(results, "machine", lambda: "CPU: test machine")
    out = tmp_path / "RESULTS.md"
    out.write_text("# Results\n\n## bad.py\n\nthe last good figures\n")
    good = script(tmp_path, "good.py", 'print("good figure")')
    bad = script(tmp_path, "bad.py", 'print("half a table"); sys.exit("no checkpoint: run make train first")')
    never = script(tmp_path, "never.py", 'print("never run")')
    assert results.main(["--out", str(out), str(good), str(bad), str(never)]) == 1
    text = out.read_text()
    assert "good figure" in text and "the last good figures" in text
    assert "half a table" not in text and "never" not in text


def test_an_unknown_benchmark_is_refused_before_anything_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(results, "machine", lambda: "CPU: test machine")
    first = script(tmp_path, "first.py", 'print("ran")')
    assert results.main(["--out", str(tmp_path / "R.md"), str(first), "no_such_benchmark.py"]) == 2
    captured = capsys.readouterr()
    assert "no benchmark" in captured.err and "ran" not in captured.out and not (tmp_path / "R.md").exists()


def test_make_bench_runs_benchmarks_that_exist_and_keeps_a_section_for_each():
    makefile = (ROOT / "Makefile").read_text()
    line = next(line for line in makefile.splitlines() if line.startswith("BENCHMARKS :="))
    names = [shlex.split(spec)[0] for spec in shlex.split(line.split(":=", 1)[1])]
    assert names and all((ROOT / "benchmarks" / name).is_file() for name in names)
    assert "$(PY) benchmarks/results.py $(BENCHMARKS)" in makefile
    _, sections = results.split_sections((ROOT / "benchmarks" / "RESULTS.md").read_text(encoding="utf-8"))
    assert set(names) <= {title for title, _ in sections}
