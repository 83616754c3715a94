"""The README and CONTRIBUTING.md say what the project's files do: the test command, the CPU torch pin, the paths they
name and the README sections that notebooks point to."""
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ["README.md", "CONTRIBUTING.md"]


def makefile_variable(name: str) -> str:
    return re.search(rf"^{name}\s*:?=\s*(.*)$", (ROOT / "Makefile").read_text(), re.MULTILINE).group(1).strip()


def test_the_readme_shows_the_test_command_that_make_test_and_ci_run():
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^test:.*\n\t(.*)$", makefile, re.MULTILINE).group(1)
    command = recipe.replace("$(PY)", ".venv/bin/python").replace("$(NBVAL)", makefile_variable("NBVAL"))
    assert "$" not in command
    assert re.search(r"^make test$", (ROOT / ".ci" / "run").read_text(), re.MULTILINE)
    for doc in DOCS:
        assert command in (ROOT / doc).read_text(encoding="utf-8"), f"{doc} must show `{command}`"


def test_the_readme_installs_the_torch_that_make_installs_on_a_cpu():
    assert f"pip install {makefile_variable('TORCH_CPU')}" in (ROOT / "README.md").read_text(encoding="utf-8")


PATH = re.compile(r"`((?:benchmarks|tools|tests|landinglib|notebooks|data/pretrained)/[\w./-]+\.\w+|[A-Z]+\.md)`")


@pytest.mark.parametrize("doc", DOCS)
def test_every_file_a_doc_names_exists(doc):
    text = (ROOT / doc).read_text(encoding="utf-8")
    named = set(PATH.findall(text)) | set(re.findall(r"\]\(([^)#]+)\)", text))
    assert named, f"{doc} names no file: the pattern is wrong"
    missing = sorted(p for p in named if not (ROOT / p).exists() and not any(c in p for c in "<*"))
    assert not missing, f"{doc} names files that do not exist: {missing}"


def test_the_readme_sections_that_notebooks_point_to_exist():
    headings = set(re.findall(r"^#+ (.+)$", (ROOT / "README.md").read_text(encoding="utf-8"), re.MULTILINE))
    pointed = set()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            pointed |= set(re.findall(r"README(?:'s|:) \"([^\"]+)\"", "".join(cell["source"])))
    assert pointed, "no notebook points to a README section: the pattern is wrong"
    assert pointed <= headings, f"notebooks point to README sections that do not exist: {sorted(pointed - headings)}"
