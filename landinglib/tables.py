"""Result tables that read well everywhere: aligned text for ``print`` and the command line, an HTML
table when a notebook (or GitHub's notebook view) displays one. No pandas needed."""
from __future__ import annotations

import html


class Table(str):
    """An aligned text table (the ``str`` itself) that Jupyter renders as an HTML table.

    ``Table(header, rows)``: ``header`` a list of column names, ``rows`` lists of cells already
    formatted as strings. The first column is left-aligned, the others right-aligned (numbers).
    """

    header: list[str]
    rows: list[list[str]]

    def __new__(cls, header: list[str], rows: list[list[str]], *, rule: bool = False) -> "Table":
        header, rows = [str(h) for h in header], [[str(c) for c in row] for row in rows]
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

        def line(cells):
            return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
        lines = [line(header)] + (["-" * len(line(header))] if rule else []) + [line(r) for r in rows]
        table = super().__new__(cls, "\n".join(lines))
        table.header, table.rows = header, rows
        return table

    def _repr_html_(self) -> str:
        def cells(tag, row):
            return "".join(f'<{tag} style="text-align:{"left" if i == 0 else "right"}">{html.escape(c)}</{tag}>'
                           for i, c in enumerate(row))
        body = "".join(f"<tr>{cells('td', r)}</tr>" for r in self.rows)
        return f"<table><thead><tr>{cells('th', self.header)}</tr></thead><tbody>{body}</tbody></table>"
