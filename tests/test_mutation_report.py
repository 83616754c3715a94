"""tools/mutation_report.py: the score `make mutation` prints, and the accounting of every surviving mutant."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "mutation_report", Path(__file__).resolve().parent.parent / "tools" / "mutation_report.py")
mutation_report = importlib.util.module_from_spec(_spec)
sys.modules["mutation_report"] = mutation_report  # dataclasses look their module up there
_spec.loader.exec_module(mutation_report)

MUTATED = '''
def x_half__mutmut_orig(x, by=2):
    """Half of x."""
    return x / 2

def x_half__mutmut_1(x, by=2):
    """Half of x."""
    return x / 3

def x_half__mutmut_2(x, by=2):
    """Half of x."""
    return x * 0.5

def x_half__mutmut_3(x, by=3):
    """Half of x."""
    return x / 2

class Box:
    def xǁBoxǁsize__mutmut_orig(self):
        return self.w * self.h

    def xǁBoxǁsize__mutmut_1(self):
        return self.w + self.h
'''

HALF_AS_PRODUCT = "## landinglib.mod.x_half\n- return x / 2\n+ return x * 0.5\n= the same number for every float\n"


@pytest.fixture
def mutants(tmp_path):
    """A mutants folder as mutmut 3 leaves it: the mutated module and its exit codes."""
    folder = tmp_path / "mutants" / "landinglib"
    folder.mkdir(parents=True)
    (folder / "mod.py").write_text(MUTATED)
    codes = {"landinglib.mod.x_half__mutmut_1": 1, "landinglib.mod.x_half__mutmut_2": 0,
             "landinglib.mod.xǁBoxǁsize__mutmut_1": -24}
    (folder / "mod.py.meta").write_text(json.dumps({"exit_code_by_key": codes}))
    return tmp_path / "mutants"


def test_exit_codes_read_as_caught_survived_or_not_run():
    assert [mutation_report.status(c) for c in (0, 1, 3, -24, 152, None)] == [
        "survived", "caught", "caught", "caught", "caught", "not run"]


def test_a_mutant_is_described_by_the_lines_it_changes(mutants):
    change = mutation_report.changes(mutants, ["landinglib.mod.x_half__mutmut_2"])["landinglib.mod.x_half__mutmut_2"]
    assert change == mutation_report.Change("landinglib.mod.x_half", ("return x / 2",), ("return x * 0.5",))
    default = mutation_report.changes(mutants, ["landinglib.mod.x_half__mutmut_3"])["landinglib.mod.x_half__mutmut_3"]
    assert (default.removed, default.added) == (("def x_half(x, by=2):",), ("def x_half(x, by=3):",))
    method = mutation_report.changes(mutants, ["landinglib.mod.xǁBoxǁsize__mutmut_1"])
    assert method["landinglib.mod.xǁBoxǁsize__mutmut_1"].added == ("return self.w + self.h",)


def test_an_unlisted_survivor_fails_the_report_and_is_shown(mutants, tmp_path, capsys):
    assert mutation_report.report(mutants, tmp_path / "none.txt") == 1
    out = capsys.readouterr().out
    assert "1 surviving mutant(s) neither caught nor listed" in out
    assert "# landinglib.mod.x_half__mutmut_2\n## landinglib.mod.x_half\n- return x / 2\n+ return x * 0.5" in out
    assert out.splitlines()[1].split() == ["mod", "3", "2", "0", "0", "1", "0", "66.7%", "66.7%"]


def test_a_listed_equivalent_accounts_for_its_survivor(mutants, tmp_path, capsys):
    listed = tmp_path / "equivalents.txt"
    listed.write_text("# a comment\n\n" + HALF_AS_PRODUCT)
    assert mutation_report.report(mutants, listed) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].split() == ["mod", "3", "2", "1", "0", "0", "0", "66.7%", "100.0%"]
    assert "every surviving mutant is listed" in out


def test_a_survivor_caught_by_a_test_outside_the_run_is_counted_apart(mutants, tmp_path, capsys):
    listed = tmp_path / "equivalents.txt"
    listed.write_text(HALF_AS_PRODUCT.replace("= the same", "= caught by test_on_a_gpu: the same"))
    assert mutation_report.report(mutants, listed) == 0
    assert capsys.readouterr().out.splitlines()[1].split() == ["mod", "3", "2", "0", "1", "0", "0", "66.7%", "66.7%"]


def test_a_listed_mutant_that_no_longer_survives_is_reported_stale(mutants, tmp_path, capsys):
    listed = tmp_path / "equivalents.txt"
    listed.write_text(HALF_AS_PRODUCT + "\n## landinglib.mod.x_half\n- return x / 2\n+ return x / 3\n= wrong\n")
    assert mutation_report.report(mutants, listed) == 0
    out = capsys.readouterr().out
    assert "1 listed equivalent(s) no longer survive" in out and "+ return x / 3" in out


PACKAGE_MODULE = """
def x_twice__mutmut_orig(x):
    return x * 2

def x_twice__mutmut_1(x):
    return x * 3
"""


def test_the_modules_of_a_package_are_read_and_scored_as_one_row(mutants, tmp_path, capsys):
    """A package (``landinglib/pkg/``) is one row that sums its modules; mutmut names the mutants of its
    ``__init__.py`` without ``__init__``, and their change is still found."""
    package = mutants / "landinglib" / "pkg"
    package.mkdir()
    for module, name, code in (("one", "landinglib.pkg.one", 1), ("two", "landinglib.pkg.two", 0),
                               ("__init__", "landinglib.pkg", 0)):
        (package / f"{module}.py").write_text(PACKAGE_MODULE)
        (package / f"{module}.py.meta").write_text(json.dumps({"exit_code_by_key": {f"{name}.x_twice__mutmut_1": code}}))
    found = mutation_report.changes(mutants, ["landinglib.pkg.two.x_twice__mutmut_1", "landinglib.pkg.x_twice__mutmut_1"])
    assert found["landinglib.pkg.two.x_twice__mutmut_1"] == mutation_report.Change(
        "landinglib.pkg.two.x_twice", ("return x * 2",), ("return x * 3",))
    assert found["landinglib.pkg.x_twice__mutmut_1"] == mutation_report.Change(
        "landinglib.pkg.x_twice", ("return x * 2",), ("return x * 3",))
    listed = tmp_path / "equivalents.txt"
    listed.write_text(HALF_AS_PRODUCT + "\n## landinglib.pkg.x_twice\n- return x * 2\n+ return x * 3\n= an example\n")
    assert mutation_report.report(mutants, listed) == 1  # pkg.two's survivor is not listed
    rows = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()[1:4]}
    assert sorted(rows) == ["all", "mod", "pkg"]
    assert rows["pkg"] == ["3", "1", "1", "0", "1", "0", "33.3%", "50.0%"]
    assert rows["all"] == ["6", "3", "2", "0", "1", "0", "50.0%", "75.0%"]

@pytest.mark.parametrize("text, where", [
    ("## landinglib.mod.x_half\n- return x / 2\n+ return x * 0.5\n", "the last block has no '= reason' line"),
    ("## landinglib.mod.x_half\n- a\n## landinglib.mod.x_other\n", ":3: the block above has no '= reason'"),
    ("## landinglib.mod.x_half\n- a\n=\n", ":3: expected"),
    ("- a line before any function\n", ":1: expected"),
])
def test_a_malformed_equivalents_file_names_its_line(tmp_path, text, where):
    listed = tmp_path / "equivalents.txt"
    listed.write_text(text)
    with pytest.raises(ValueError, match=where.replace("'", ".")):
        mutation_report.read_equivalents(listed)


def test_no_results_is_an_error_that_says_what_to_run(tmp_path, capsys):
    assert mutation_report.report(tmp_path / "mutants", tmp_path / "none.txt") == 2
    assert "run `make mutation` first" in capsys.readouterr().err
