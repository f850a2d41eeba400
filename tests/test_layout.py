"""The layout keeps its shape: no import circles, small modules, dependencies pointing one way.

Imports are read with `ast` (nothing is executed). Imports under `if TYPE_CHECKING:` are left
out: they exist for type checkers only and never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("components", "settings")


def program_modules() -> dict[str, Path]:
    modules = {"__main__": ROOT / "__main__.py"}
    for package in PACKAGES:
        for path in sorted((ROOT / package).glob("*.py")):
            name = package if path.stem == "__init__" else f"{package}.{path.stem}"
            modules[name] = path
    return modules


def _runtime_nodes(tree: ast.AST):
    """Every node except the bodies of `if TYPE_CHECKING:` blocks."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The project modules `path` imports when it runs."""
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        found |= {name for name in names if name in known}
    return found


def import_graph() -> dict[str, set[str]]:
    modules = program_modules()
    known = set(modules)
    return {name: imports_of(path, known) - {name} for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle as a path `a -> b -> a`, or [] when there is none."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return stack[stack.index(target) :] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = "done"
        return []

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return []


def test_the_cycle_finder_finds_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a"}}) == []


def test_type_checking_imports_do_not_count(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\nimport a\nif TYPE_CHECKING:\n"
        "    import b\nelse:\n    import c\n"
    )
    assert imports_of(module, {"a", "b", "c"}) == {"a", "c"}


def test_no_import_circles():
    cycle = find_cycle(import_graph())
    assert not cycle, "import circle: " + " -> ".join(cycle)


def test_settings_never_import_components_or_main():
    for name, targets in import_graph().items():
        if name.startswith("settings"):
            assert not {t for t in targets if not t.startswith("settings")}, (name, targets)


# "About 250": a module that grows past this does more than one thing; split it by concern.
MAX_LINES = 260
SIZED = ("components", "settings", "payloads", "policy")


def sized_modules() -> list[Path]:
    return [ROOT / "__main__.py"] + sorted(
        path for folder in SIZED for path in (ROOT / folder).glob("*.py")
    )


@pytest.mark.parametrize("path", sized_modules(), ids=lambda path: str(path.relative_to(ROOT)))
def test_modules_stay_small(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines; split it by concern"
