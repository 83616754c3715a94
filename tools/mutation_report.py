"""Score a `mutmut run` and account for every surviving mutant.

`make mutation` runs this after mutmut. It reads mutmut's results (``mutants/landinglib/**/*.py.meta``, so the
modules inside a package such as ``data/`` too) and the mutated sources beside them, and scores each top-level
module as one row (a package is one row: ``data`` sums ``data/io.py``, ``data/cache.py``, ...). It matches each
surviving mutant against ``tools/mutation_equivalents.txt``: a list of mutants judged equivalent (no test can
tell them from the original), each with a one-line reason. A reason that starts with "caught by" names a test
that kills the mutant outside this run (one that needs a GPU or several processes); such mutants are counted
apart. A survivor that is not listed is a gap in the tests (or a new equivalent to list); the script prints its
diff and exits 1.

The file holds one block per mutant, keyed by what the mutant changes, not by mutmut's number (which shifts when
the code above it changes)::

    ## landinglib.train.x__reseed_epoch
    -     loader.generator.manual_seed(seed * 1000 + epoch)
    +     loader.generator.manual_seed(seed * 1001 + epoch)
    = the seed stays a one-to-one function of (seed, epoch): the same (seed, epoch) still gives the same batches

``##`` names the function as mutmut does, ``-`` / ``+`` give the changed lines (leading and trailing spaces do
not count), ``=`` the reason. ``python tools/mutation_report.py --draft`` prints unlisted survivors in this form.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENTS = ROOT / "tools" / "mutation_equivalents.txt"
CAUGHT, SURVIVED, NOT_RUN = "caught", "survived", "not run"
_NUMBER = re.compile(r"__mutmut_\d+$")


@dataclass(frozen=True)
class Change:
    """What one mutant changes: the function (as mutmut names it) and its removed and added lines."""

    function: str
    removed: tuple[str, ...]
    added: tuple[str, ...]

    def block(self, reason: str) -> str:
        lines = [f"## {self.function}", *(f"- {x}" for x in self.removed), *(f"+ {x}" for x in self.added)]
        return "\n".join([*lines, f"= {reason}"])


def status(exit_code: int | None) -> str:
    """mutmut's exit codes: 0 = the tests passed (survived); None = not run; anything else caught it
    (1 and 3 failing tests, negative or 152 / 255 / 36 a timeout or a crash)."""
    if exit_code is None:
        return NOT_RUN
    return SURVIVED if exit_code == 0 else CAUGHT


def read_results(mutants: Path) -> dict[str, str]:
    """Mutant name -> status, from every ``*.py.meta`` file mutmut wrote."""
    results = {}
    for meta in sorted(mutants.rglob("*.py.meta")):
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            results[name] = status(code)
    return results


def _functions(source: str) -> dict[str, list[str]]:
    """Every function definition of a mutated module, by name, as its source lines."""
    lines = source.splitlines()
    return {
        node.name: lines[node.lineno - 1 : node.end_lineno]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    }


def module_path(mutants: Path, module: str) -> Path:
    """The mutated source of a dotted module name: ``a/b.py``, or ``a/b/__init__.py`` for a package (whose
    mutants mutmut names without ``__init__``)."""
    path = mutants / (module.replace(".", "/") + ".py")
    return path if path.exists() else mutants / module.replace(".", "/") / "__init__.py"


def changes(mutants: Path, names: list[str]) -> dict[str, Change]:
    """The change of each named mutant, read from the mutated module that holds it."""
    by_module = defaultdict(list)
    for name in names:
        by_module[name.rsplit(".", 1)[0]].append(name)
    found = {}
    for module, members in by_module.items():
        functions = _functions(module_path(mutants, module).read_text())
        for name in members:
            short = name.rsplit(".", 1)[1]
            base = _NUMBER.sub("", short)
            original = functions[base + "__mutmut_orig"]
            mutant = functions[short]
            # the def lines differ by the name; a mutant may also change a default value there
            original = [original[0].replace(base + "__mutmut_orig", base, 1), *original[1:]]
            mutant = [mutant[0].replace(short, base, 1), *mutant[1:]]
            diff = [line for line in difflib.ndiff(original, mutant) if line[:2] in ("- ", "+ ")]
            found[name] = Change(
                function=_NUMBER.sub("", name),
                removed=tuple(line[2:].strip() for line in diff if line.startswith("- ")),
                added=tuple(line[2:].strip() for line in diff if line.startswith("+ ")),
            )
    return found


def read_equivalents(path: Path) -> dict[Change, str]:
    """The listed equivalent mutants and their reasons; a malformed block stops with its line number."""
    listed: dict[Change, str] = {}
    function, removed, added = None, [], []
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or (line.startswith("#") and not line.startswith("## ")):
            continue
        if line.startswith("## "):
            if removed or added:
                raise ValueError(f"{path}:{number}: the block above has no '= reason' line")
            function = line[3:].strip()
        elif line[:1] in "-+" and function is not None:
            (removed if line[0] == "-" else added).append(line[1:].strip())
        elif line.startswith("=") and function is not None and (removed or added) and line[1:].strip():
            listed[Change(function, tuple(removed), tuple(added))] = line[1:].strip()
            removed, added = [], []
        else:
            raise ValueError(f"{path}:{number}: expected '## function', '- line', '+ line' or '= reason': {raw!r}")
    if removed or added:
        raise ValueError(f"{path}: the last block has no '= reason' line")
    return listed


def report(mutants: Path, equivalents: Path, draft: bool = False) -> int:
    """Print the score per module and every unexplained survivor; return 1 if there is one, else 0."""
    results = read_results(mutants)
    if not results:
        print(f"no mutmut results under {mutants}: run `make mutation` first", file=sys.stderr)
        return 2
    listed = read_equivalents(equivalents) if equivalents.exists() else {}
    survivors = sorted(name for name, s in results.items() if s == SURVIVED)
    changed = changes(mutants, survivors)
    unexplained = [name for name in survivors if changed[name] not in listed]
    used = {changed[name] for name in survivors} & listed.keys()

    rows: dict[str, Counter] = defaultdict(Counter)
    for name, s in results.items():
        module = name.split(".")[1]  # the top-level module or package: landinglib.data.io.x_f -> data
        rows[module][s] += 1
        if s == SURVIVED:
            reason = listed.get(changed[name])
            kind = "unexplained" if reason is None else "elsewhere" if reason.startswith("caught by") else "equivalent"
            rows[module][kind] += 1
    print(f"{'module':<12} {'mutants':>7} {'caught':>7} {'equiv.':>7} {'elsewh.':>7} {'unexpl.':>7} {'not run':>7} "
          f"{'score':>7} {'excl. equiv.':>12}")
    total = Counter()
    for module in sorted(rows) + ["all"]:
        c = rows[module] if module != "all" else total
        n = c[CAUGHT] + c[SURVIVED] + c[NOT_RUN]
        score = c[CAUGHT] / n if n else 0.0
        judged = n - c["equivalent"]
        excl = c[CAUGHT] / judged if judged else 1.0
        print(f"{module:<12} {n:>7} {c[CAUGHT]:>7} {c['equivalent']:>7} {c['elsewhere']:>7} {c['unexplained']:>7} "
              f"{c[NOT_RUN]:>7} "
              f"{score:>7.1%} {excl:>12.1%}")
        if module != "all":
            total.update(c)
    stale = [change for change in listed if change not in used]
    if stale:
        print(f"\n{len(stale)} listed equivalent(s) no longer survive (caught now, or the code changed): "
              "remove them from " + equivalents.name)
        for change in stale:
            print("  " + change.block(listed[change]).replace("\n", "\n  "))
    if unexplained:
        print(f"\n{len(unexplained)} surviving mutant(s) neither caught nor listed as equivalent "
              f"(`mutmut show NAME` for the whole function):")
        for name in unexplained:
            print(f"\n# {name}\n" + changed[name].block("TODO: a test that catches it, or why none can" if draft
                                                       else "?"))
        return 1
    shown = equivalents.relative_to(ROOT) if equivalents.is_relative_to(ROOT) else equivalents
    print(f"\nevery surviving mutant is listed in {shown}: equivalent, or caught by a test outside this run")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=Path, default=ROOT / "mutants")
    parser.add_argument("--equivalents", type=Path, default=EQUIVALENTS)
    parser.add_argument("--draft", action="store_true", help="print unlisted survivors as blocks to fill in")
    args = parser.parse_args(argv)
    return report(args.mutants, args.equivalents, draft=args.draft)


if __name__ == "__main__":
    sys.exit(main())
