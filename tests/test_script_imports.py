"""scripts/ stands on its own: no script imports a test module (tests may import scripts), and
the scripts' own imports form no circle, also none that only type checkers follow.

Imports are read with `ast` (nothing is executed), and so are the string literals: a script
that put tests/ on sys.path or ran test code in a child interpreter would name that folder.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "scripts").glob("*.py"))
TEST_MODULES = {path.stem for path in (ROOT / "tests").rglob("*.py")}


def imported(path: Path) -> set[str]:
    """Every module name `path` imports, wherever the import stands (TYPE_CHECKING included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def names_tests_folder(path: Path) -> list[str]:
    return [
        node.value
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and (node.value == "tests" or node.value.startswith("tests/"))
    ]


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda path: path.name)
def test_scripts_import_no_test_module(path):
    assert not imported(path) & TEST_MODULES, path.name
    assert names_tests_folder(path) == [], path.name


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    def visit(node: str, trail: list[str]) -> list[str]:
        for target in sorted(graph.get(node, ())):
            if target in trail:
                return trail[trail.index(target) :] + [target]
            found = visit(target, [*trail, target])
            if found:
                return found
        return []

    for start in sorted(graph):
        cycle = visit(start, [start])
        if cycle:
            return cycle
    return []


def script_graph() -> dict[str, set[str]]:
    modules = {path.stem for path in SCRIPTS}
    return {path.stem: imported(path) & modules - {path.stem} for path in SCRIPTS}


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo += graph.get(node, ())
    return seen


# `make bench` and the modules it loads (its tables, the cluster, the stacks, the charts).
# (recover <-> recover_lookup is the recovery slice's to break; then this can cover all scripts.)
def test_bench_modules_import_no_circle():
    graph = script_graph()
    modules = reachable(graph, "bench")
    assert {"bench_report", "kwok_cluster", "engine_stack", "standin_charts"} <= modules
    cycle = find_cycle({name: graph[name] & modules for name in modules})
    assert not cycle, "import circle: " + " -> ".join(cycle)


def test_the_checks_catch_what_they_look_for(tmp_path):
    script = tmp_path / "s.py"
    script.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from harness import x\n"
        "import sys\nsys.path.insert(0, 'tests/e2e')\n"
    )
    assert "harness" in imported(script) & TEST_MODULES
    assert names_tests_folder(script) == ["tests/e2e"]
    assert find_cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
