"""Run benchmarks and record what each prints in benchmarks/RESULTS.md, one section per benchmark.

    python benchmarks/results.py [--out benchmarks/RESULTS.md] "SCRIPT [OPTIONS]" ...

`make bench` runs it with the list in the Makefile. Each benchmark runs alone, as ``python benchmarks/SCRIPT
OPTIONS`` (a path to a script elsewhere works too); what it prints goes to the terminal as it comes and, once it has
finished, into the section ``## SCRIPT`` of the results file, under a line that gives the command, the date and the
machine (``landinglib.profiling.describe_machine``, the torch version and the GPU, if any). That section replaces one
of the same name; every other section, including figures recorded by other commands with their own machine and date,
is kept. The first benchmark that fails stops the run with its exit status; the sections written before it stay.
"""
from __future__ import annotations

import argparse
import datetime
import os
import shlex
import subprocess
import sys
from pathlib import Path

import torch

from landinglib.profiling import describe_machine
from landinglib.runtime import write_atomic

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
FENCE = "```"


def machine() -> str:
    """The machine line of a section: CPU (``describe_machine``), torch version, and the GPU when there is one."""
    gpu = f", GPU: {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    return f"{describe_machine()}, torch {torch.__version__}{gpu}"


def section(title: str, command: str, date: str, machine_line: str, output: str) -> str:
    """A results section: ``## title``, the command, date and machine, then the output verbatim in a code block."""
    body = output.strip("\n")
    return f"## {title}\n\n`{command}` · {date} · {machine_line}\n\n{FENCE}text\n{body}\n{FENCE}\n"


def split_sections(text: str) -> tuple[str, list[tuple[str, str]]]:
    """(the text before the first section, [(title, text of the section)]) of a results file. A section starts at a
    line ``## title`` outside a fenced code block and runs to the next one."""
    head, sections, inside = [], [], False
    for line in text.splitlines(keepends=True):
        if line.startswith(FENCE):
            inside = not inside
        if line.startswith("## ") and not inside:
            sections.append([line[3:].strip(), line])
        elif sections:
            sections[-1][1] += line
        else:
            head.append(line)
    return "".join(head), [(title, body) for title, body in sections]


def replace_section(text: str, title: str, new: str) -> str:
    """``text`` with the section ``title`` replaced by ``new`` in place, or ``new`` appended when there is none."""
    head, sections = split_sections(text)
    bodies = [new if name == title else body for name, body in sections]
    if title not in [name for name, _ in sections]:
        bodies.append(new)
    parts = [head.rstrip("\n") + "\n" if head.strip() else ""] + [body.rstrip("\n") + "\n" for body in bodies]
    return "\n".join(part for part in parts if part)


def run_benchmark(script: Path, options: list[str]) -> tuple[int, str]:
    """Run one benchmark in its own process; show its output as it comes and return (exit status, its stdout).
    Its stderr (progress bars, warnings) goes to the terminal only."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen([sys.executable, str(script), *options], stdout=subprocess.PIPE, text=True, env=env) as proc:
        lines = []
        for line in proc.stdout:
            print(line, end="", flush=True)
            lines.append(line)
    return proc.returncode, "".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("benchmarks", nargs="+", metavar="SCRIPT [OPTIONS]",
                        help='a benchmark script in benchmarks/ with its options, quoted as one argument')
    parser.add_argument("--out", type=Path, default=RESULTS, help="the results file (default: %(default)s)")
    args = parser.parse_args(argv)
    runs = []
    for spec in args.benchmarks:
        name, *options = shlex.split(spec)
        script = HERE / name
        if not script.is_file():
            print(f"no benchmark {script}: name a script in {HERE}", file=sys.stderr)
            return 2
        runs.append((script, options))
    machine_line = machine()
    for script, options in runs:
        shown = f"benchmarks/{script.name}" if script.parent == HERE else str(script)
        command = shlex.join(["python", shown, *options])
        print(f"\n$ {command}", flush=True)
        status, output = run_benchmark(script, options)
        if status:
            print(f"{command} failed (exit status {status}): the {script.name} section of {args.out} is left as it was",
                  file=sys.stderr)
            return status
        text = args.out.read_text(encoding="utf-8") if args.out.exists() else "# Results\n"
        new = section(script.name, command, datetime.date.today().isoformat(), machine_line, output)
        write_atomic(args.out, replace_section(text, script.name, new))
        print(f"({script.name}: written to {args.out})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
