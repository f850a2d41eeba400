"""The layout keeps its shape: modules split along seams, no import circles, dependencies
pointing one way (CONTRIBUTING.md "Layout").

Imports are read with `ast` (nothing is executed). Imports under `if TYPE_CHECKING:` count too: a
circle that only a type checker follows is still two modules that each need the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("components", "settings")
# Folders whose modules import each other by bare name (each is put on sys.path by its runner).
FLAT_FOLDERS = ("policy", "scripts")


def program_modules() -> dict[str, Path]:
    modules = {"__main__": ROOT / "__main__.py"}
    for package in PACKAGES:
        for path in sorted((ROOT / package).glob("*.py")):
            name = package if path.stem == "__init__" else f"{package}.{path.stem}"
            modules[name] = path
    return modules


def flat_modules(folder: str) -> dict[str, Path]:
    return {path.stem: path for path in sorted((ROOT / folder).glob("*.py"))}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The project modules `path` imports, also those only a type checker follows."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        found |= {name for name in names if name in known}
    return found


def import_graph(modules: dict[str, Path] | None = None) -> dict[str, set[str]]:
    modules = program_modules() if modules is None else modules
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


def test_type_checking_imports_count_too(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        "from typing import TYPE_CHECKING\nimport a\nif TYPE_CHECKING:\n"
        "    import b\nelse:\n    import c\n"
    )
    assert imports_of(module, {"a", "b", "c"}) == {"a", "b", "c"}


@pytest.mark.parametrize("domain", ["program", *FLAT_FOLDERS])
def test_no_import_circles(domain):
    modules = program_modules() if domain == "program" else flat_modules(domain)
    cycle = find_cycle(import_graph(modules))
    assert not cycle, "import circle: " + " -> ".join(cycle)


def test_settings_never_import_components_or_main():
    for name, targets in import_graph().items():
        if name.startswith("settings"):
            assert not {t for t in targets if not t.startswith("settings")}, (name, targets)


def component_classes(path: Path) -> list[str]:
    """The ComponentResource subclasses a module defines."""
    return [
        node.name
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef)
        and any("ComponentResource" in ast.unparse(base) for base in node.bases)
    ]


@pytest.mark.parametrize(
    "path", sorted((ROOT / "components").glob("*.py")), ids=lambda path: path.name
)
def test_one_component_per_module(path):
    """The seam in components/: one ComponentResource (one concern) per module; builders that
    several components share sit in modules without one."""
    assert len(component_classes(path)) <= 1, component_classes(path)
