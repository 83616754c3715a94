import importlib.util
import json
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
