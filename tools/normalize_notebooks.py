"""Store notebooks the way JupyterLab writes them, so that opening one does not modify it.

    python tools/normalize_notebooks.py notebooks/*.ipynb          # rewrite in place
    python tools/normalize_notebooks.py --check notebooks/*.ipynb  # exit 1 if any would change

Normal form: nbformat 4.5 or later, every cell with a unique id, the kernel as the ipykernel
kernelspec names it ("Python 3 (ipykernel)": JupyterLab rewrites the display name when the kernel
starts, which marks a notebook stored with "Python 3" as modified), and the text that nbformat
writes (sorted keys, one-space indent, a final newline), as Jupyter's server does on save.
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

import nbformat
from nbformat.validator import normalize as _normalize_ids
from nbformat.warnings import MissingIDFieldWarning

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def normalize(text: str) -> str:
    """The normal form of a notebook's JSON text."""
    with warnings.catch_warnings():  # a missing id is what this adds, as JupyterLab would
        warnings.simplefilter("ignore", MissingIDFieldWarning)
        nb = nbformat.reads(text, as_version=4)
        if nb.nbformat_minor < 5:
            nb.nbformat_minor = 5
        _, fixed = _normalize_ids(nb)
    nb = nbformat.from_dict(fixed)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nbformat.validate(nb)
    out = nbformat.writes(nb)
    return out if out.endswith("\n") else out + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    changed = []
    for name in [a for a in argv if a != "--check"]:
        path = Path(name)
        text = path.read_text(encoding="utf-8")
        normal = normalize(text)
        if normal != text:
            changed.append(name)
            if not check:
                path.write_text(normal, encoding="utf-8")
    if changed:
        print(("not normalised: " if check else "normalised: ") + ", ".join(changed))
    return 1 if check and changed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
