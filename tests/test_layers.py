"""The package is layered: every module imports only modules below it, so there is no import circle
(lazy imports inside functions count too) and each module can be read without the ones above it."""
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


def test_the_cycle_finder_finds_a_planted_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
