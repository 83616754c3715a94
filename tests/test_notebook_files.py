import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
_spec = importlib.util.spec_from_file_location("normalize_notebooks", ROOT / "tools" / "normalize_notebooks.py")
normalize_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(normalize_notebooks)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebooks_are_stored_as_jupyterlab_writes_them(path):
    """Opening a notebook in JupyterLab must not modify it (make notebooks normalises them)."""
    text = path.read_text(encoding="utf-8")
    assert normalize_notebooks.normalize(text) == text, f"run: python tools/normalize_notebooks.py {path.name}"
    nb = json.loads(text)
    ids = [cell["id"] for cell in nb["cells"]]
    assert len(set(ids)) == len(ids) == len(nb["cells"])
    assert nb["metadata"]["kernelspec"]["display_name"] == "Python 3 (ipykernel)"


def test_normal_form_adds_cell_ids_and_the_kernel_name_jupyterlab_would_add():
    old = {"nbformat": 4, "nbformat_minor": 4, "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# hi"]},
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": ["1 + 1"]}],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}}
    once = normalize_notebooks.normalize(json.dumps(old))
    nb = json.loads(once)
    assert nb["nbformat_minor"] >= 5 and all(cell.get("id") for cell in nb["cells"])
    assert nb["metadata"]["kernelspec"] == normalize_notebooks.KERNELSPEC
    assert once.endswith("}\n") and normalize_notebooks.normalize(once) == once  # stable


def test_check_mode_reports_and_leaves_files_alone(tmp_path, capsys):
    path = tmp_path / "x.ipynb"
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "cells": [], "metadata": {}}))
    before = path.read_text()
    assert normalize_notebooks.main(["--check", str(path)]) == 1
    assert path.read_text() == before and "not normalised" in capsys.readouterr().out
    assert normalize_notebooks.main([str(path)]) == 0
    assert normalize_notebooks.main(["--check", str(path)]) == 0


# Prose that cannot go stale: a participant's run prints other numbers than the run that was committed, so the
# markdown says what to look for and why, and figures live in cell outputs (a cell prints the interpretation when a
# sentence needs one). Facts that no run changes may be quoted; each is listed here with the reason it is a fact.
FACTS = {
    "01_datasets.ipynb": {
        "0.8–2×": "the augmentation recipe: 64-160 px regions resized to 128 (data.train_transform)",
    },
    "02_model.ipynb": {
        "1.64 GMAC": "the reference's compute at 256×256, counted by model.count_macs",
        "1.8 GMAC": "ResNet-18's published compute at 224×224",
        "3.3 m": "the 33-px receptive field at 10 cm/px",
        "12.6 MB": "6 × 128 channels × 64 × 64 × 4 bytes",
    },
    "05_evaluation.ipynb": {
        "0.02–0.05": "the GSD of a phone-sized drone at 30-60 m, a worked example of the formula beside it",
    },
}
STALE_PHRASES = re.compile(r"\btoday\b|\btoday's\b|previous version|landinglib 0\.1|the run shown here", re.IGNORECASE)
DECIMAL = re.compile(r"\d+\.\d+")
FENCED = re.compile(r"```.*?```", re.DOTALL)  # commands to type, not prose


def stale_prose(markdown: str, facts=()) -> list[str]:
    """The decimal figures and stale phrases in a markdown cell's text, outside fenced code blocks and
    outside the ``facts`` (exact strings allowed in this notebook)."""
    text = FENCED.sub("", markdown)
    for fact in facts:
        text = text.replace(fact, "")
    return [m.group(0) for m in STALE_PHRASES.finditer(text)] + [m.group(0) for m in DECIMAL.finditer(text)]


def test_stale_prose_finds_run_figures_and_dated_phrases_but_not_facts_or_commands():
    assert stale_prose("the run shown here: 0.431, INT8 1.74× faster") == ["the run shown here", "0.431", "1.74"]
    assert stale_prose("Background at 7.6 % looks like zero; Today's data") == ["Today", "7.6"]
    assert stale_prose("the previous version of the data (landinglib 0.1)") == ["previous version", "landinglib 0.1", "0.1"]
    assert stale_prose("About 1.64 GMAC per image, 333,668 parameters, 4096×2160, 1e-3", ["1.64 GMAC"]) == []
    assert stale_prose("run\n```bash\nlandinglib predict x --gsd 0.05\n```\nthen look") == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_markdown_quotes_no_figure_of_a_run_and_nothing_dated(path):
    """What a participant reads must match what they get: no decimal figure of a run, no "today" or "previous
    version" in any markdown cell (facts of the code are listed in FACTS, with their reason)."""
    facts = FACTS.get(path.name, {})
    found = {}
    for k, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
        if cell["cell_type"] == "markdown":
            hits = stale_prose("".join(cell["source"]), facts)
            if hits:
                found[k] = hits
    assert not found, (f"{path.name}: markdown cells quote figures of a run or dated phrases {found}; say what to look "
                       "for and let a cell print the figure (or list a fact of the code in FACTS)")
    unused = [fact for fact in facts if not any(fact in "".join(c["source"]) for c in json.loads(
        path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "markdown")]
    assert not unused, f"{path.name}: FACTS lists {unused}, which no markdown cell quotes any more: remove them"
