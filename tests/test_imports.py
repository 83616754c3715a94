"""The package is layered: every module sits on a floor and imports only modules on lower floors (or of its own
package), so there is no import circle (lazy imports inside functions count too) and each module can be read
without the ones above it."""
import ast
from pathlib import Path

import landinglib

PACKAGE = Path(landinglib.__file__).parent


def _imports(path: Path, package: str) -> set[str]:
    """Names of landinglib modules that ``path`` imports, anywhere in the file (inside functions too)."""
    found = set()
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
            if node.module:
                found.add(target)
            else:  # from . import a, b
                found.update(f"{target}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("landinglib."))
    return found


def _graph() -> dict[str, set[str]]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = name if parts[-1] == "__init__" else ".".join(parts[:-1])
        modules[name] = path, package
    graph = {}
    for name, (path, package) in modules.items():
        graph[name] = {m for m in _imports(path, package) if m in modules and m != name}
    return graph


def _cycle(graph):
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_module_imports_a_module_that_imports_it_back():
    graph = _graph()
    graph.pop("landinglib", None)  # the package's __init__ only re-exports runtime helpers
    graph = {k: v - {"landinglib"} for k, v in graph.items()}
    assert "landinglib.metrics" in graph and "landinglib.evaluation" in graph["landinglib.train"]
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_the_mask_browser_and_the_networks_live_in_their_own_modules():
    graph = _graph()
    assert "landinglib.viz" in graph["landinglib.browser"] and "landinglib.browser" not in graph["landinglib.viz"]
    assert {"landinglib.models", "landinglib.checkpoint"} <= graph["landinglib.model"]
    from landinglib import browser, viz

    assert browser.mask_browser and not hasattr(viz, "mask_browser")  # one home, no second name


def test_metrics_is_arithmetic_only():
    assert _graph()["landinglib.metrics"] <= {"landinglib.classes", "landinglib.tables"}


FLOORS = {
    # facts and settings
    "runtime": 0, "classes": 0, "tables": 0, "devices": 0,
    # what they build on: scores, processes, the networks, the built-in world
    "metrics": 1, "distributed": 1, "models": 1, "synthetic": 1,
    # reading data; checkpoints; the landing rule, then landing sites
    "data": 2, "checkpoint": 2, "safety": 2, "landing": 3,
    # the networks' public face, prediction, scoring, pictures
    "model": 4, "inference": 4, "evaluation": 5, "viz": 5,
    # training, export, the mask browser, timing, predict on folders
    "train": 6, "export": 6, "browser": 6, "profiling": 7, "predict_folder": 7,
    # stage 0's world and run; the pipeline's settings, stages, scoring, then the pipeline itself
    "pretrain_world": 7, "pretrain": 8, "pipeline_config": 6, "stages": 9, "scoring": 10, "pipeline": 11,
    # the search, and the command line on top
    "sweep_space": 12, "sweep_study": 13, "sweep_results": 12, "sweep": 14, "cli_parser": 14, "__main__": 15,
}
"""Each top-level module or package of ``landinglib`` and its floor: a module imports only lower floors."""


def _floor(module: str) -> int:
    top = module.removeprefix("landinglib.").split(".")[0]
    assert top in FLOORS, f"{module} has no floor in tests/test_imports.py: give it one"
    return FLOORS[top]


def test_every_module_imports_only_from_lower_floors_or_its_own_package():
    graph = _graph()
    graph.pop("landinglib", None)  # the package's face: imports from below, nothing imports it
    wrong = [f"{module} (floor {_floor(module)}) imports {other} (floor {_floor(other)})"
             for module, imports in graph.items() for other in imports - {"landinglib"}
             if _floor(other) >= _floor(module) and other.split(".")[:2] != module.split(".")[:2]]
    assert not wrong, "\n".join(wrong)


def test_a_module_without_a_floor_or_importing_upwards_fails_the_layering():
    import pytest

    with pytest.raises(AssertionError, match="no floor"):
        _floor("landinglib.newcomer")
    assert _floor("landinglib.data.cache") == FLOORS["data"] < _floor("landinglib.train")


def test_the_cycle_finder_finds_a_planted_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
