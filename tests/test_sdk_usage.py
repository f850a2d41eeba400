"""The repository uses only the public API of the Pulumi SDKs, and scripts import no test module.

Issue 22 item 2. Every Python file of the repository (the program, components, settings, policy,
scripts, payloads, tests) is read with `ast`; nothing is executed. A finding is:

- `from <sdk> import _x`, or a private module (`import pulumi._x`, `from pulumi._x import y`);
- an attribute `._x` of a name bound to an SDK module or to anything imported from one
  (`runtime_config._SECRET_KEYS`, `internals._PolicyAnalyzerServicer`), also as a dotted string
  (`"pulumi.runtime.rpc._special_sig_key"`) or through `getattr`;
- an attribute `._x` of any other object when this repository never defines `_x` itself and one
  of the SDKs does (`resource._transformations`): a private attribute of an SDK object;
- replacing something of an SDK at run time: assigning to or deleting an attribute of an SDK name
  (`pulumi.export = ...`), `setattr`/`delattr`, `monkeypatch.setattr`/`delattr` or
  `mock.patch`/`patch.object` aimed at an SDK object or at a dotted SDK path.

Dunder names (`__version__`, `__file__`) are Python's protocol, not private names; subclassing a
public SDK class (the recording mocks) is public API. The SDKs: pulumi, pulumi_kubernetes,
pulumi_policy, pulumi_docker, pulumi_random.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SDKS = ("pulumi", "pulumi_kubernetes", "pulumi_policy", "pulumi_docker", "pulumi_random")
FOLDERS = ("components", "settings", "policy", "scripts", "payloads", "tests")
# namedtuple's documented methods carry an underscore only to stay clear of field names.
PUBLIC_UNDERSCORED = frozenset({"_replace", "_asdict", "_fields", "_make", "_field_defaults"})


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    what: str  # the offending expression, e.g. `pulumi.export = ...`
    why: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what} ({self.why})"


def private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def sdk_path(dotted: str) -> bool:
    return dotted.split(".")[0] in SDKS


def dotted(node: ast.AST) -> tuple[str | None, list[str]]:
    """`a.b.c` -> ("a", ["b", "c"]); the root is None when the chain does not start at a name."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.insert(0, node.attr)
        node = node.value
    while isinstance(node, (ast.Call, ast.Subscript)):  # `f()._x`, `a[0]._x`: not a bound name
        return None, parts
    return (node.id, parts) if isinstance(node, ast.Name) else (None, parts)


def sdk_bindings(nodes: list[ast.AST]) -> dict[str, str]:
    """Names a module binds to SDK modules or to objects imported from them -> the dotted path."""
    bound: dict[str, str] = {}
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if sdk_path(alias.name):
                    name = alias.asname or alias.name.split(".")[0]
                    bound[name] = alias.name if alias.asname else name
        elif isinstance(node, ast.ImportFrom) and node.module and sdk_path(node.module):
            for alias in node.names:
                bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return bound


class Scanner:
    def __init__(self, path: str, nodes: list[ast.AST], repo_names: frozenset[str]):
        self.path = path
        self.bound = sdk_bindings(nodes)
        self.repo_names = repo_names
        self.findings: list[Finding] = []
        self.foreign: list[Finding] = []  # `._x` defined nowhere here: an SDK's if the SDK has it
        # Other modules this file imports (`sys._getframe` is no SDK's business).
        self.modules = {
            alias.asname or alias.name.split(".")[0]
            for node in nodes
            if isinstance(node, ast.Import)
            for alias in node.names
            if not sdk_path(alias.name)
        }
        for node in nodes:
            visit = getattr(self, f"visit_{type(node).__name__}", None)
            if visit is not None:
                visit(node)

    def add(self, node: ast.AST, why: str) -> None:
        self.findings.append(Finding(self.path, node.lineno, ast.unparse(node), why))

    def sdk_object(self, node: ast.AST) -> bool:
        root, _ = dotted(node)
        return root in self.bound

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if sdk_path(alias.name) and any(map(private, alias.name.split("."))):
                self.add(node, "private SDK module")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if sdk_path(module):
            if any(map(private, module.split("."))):
                self.add(node, "private SDK module")
            elif any(private(alias.name) for alias in node.names):
                self.add(node, "private SDK name")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        root, parts = dotted(node)
        if isinstance(node.ctx, ast.Load) and private(node.attr):
            if root in self.bound:
                self.add(node, "private SDK name")
            elif node.attr not in self.repo_names and node.attr not in PUBLIC_UNDERSCORED:
                if not (isinstance(node.value, ast.Name) and node.value.id in self.modules):
                    self.foreign.append(Finding(self.path, node.lineno, ast.unparse(node), ""))
        if isinstance(node.ctx, (ast.Store, ast.Del)) and root in self.bound:
            verb = "assigned" if isinstance(node.ctx, ast.Store) else "deleted"
            self.add(node, f"SDK attribute {verb} at run time")

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        first = node.args[0] if node.args else None
        if name == "object":  # `patch.object`, not any `.object(...)`
            name = (
                "patch"
                if isinstance(func, ast.Attribute) and dotted(func)[1][-2:-1] == ["patch"]
                else ""
            )
        if name in ("setattr", "delattr", "patch") and first is not None:
            named = isinstance(first, ast.Constant) and isinstance(first.value, str)
            if (named and sdk_path(first.value)) or (not named and self.sdk_object(first)):
                self.add(node, "SDK replaced at run time")
        if name == "getattr" and len(node.args) > 1 and self.sdk_object(node.args[0]):
            attr = node.args[1]
            if isinstance(attr, ast.Constant) and isinstance(attr.value, str):
                if private(attr.value):
                    self.add(node, "private SDK name")

    def visit_Constant(self, node: ast.Constant) -> None:
        text = node.value
        if isinstance(text, str) and re.fullmatch(r"[A-Za-z_][\w.]*", text) and sdk_path(text):
            if any(map(private, text.split("."))):
                self.add(node, "private SDK name in a dotted path")


def defined_names(nodes: list[ast.AST]) -> set[str]:
    """Every name a module defines: functions, classes, arguments, assigned names and attributes."""
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.arg, ast.keyword)) and node.arg:
            names.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
    return names


def repo_files() -> list[Path]:
    files = [ROOT / "__main__.py"]
    for folder in FOLDERS:
        files += sorted(p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)
    return files


@cache
def sdk_source() -> str:
    """The installed SDKs' source, for the few attribute names nothing here defines."""
    texts = []
    for sdk in SDKS:
        spec = importlib.util.find_spec(sdk)
        if spec and spec.submodule_search_locations:
            for folder in spec.submodule_search_locations:
                texts += [p.read_text(errors="replace") for p in Path(folder).rglob("*.py")]
    return "\n".join(texts)


def defined_by_an_sdk(name: str) -> bool:
    return re.search(rf"\b{re.escape(name)}\b", sdk_source()) is not None


def scan(sources: dict[str, str], repo_names: frozenset[str] | None = None) -> list[Finding]:
    """Findings over {relative path: source}; `repo_names` are the names the repository defines."""
    trees = {path: list(ast.walk(ast.parse(text))) for path, text in sources.items()}
    if repo_names is None:
        repo_names = frozenset(n for nodes in trees.values() for n in defined_names(nodes))
    findings: list[Finding] = []
    for path, nodes in trees.items():
        scanner = Scanner(path, nodes, repo_names)
        findings += scanner.findings
        findings += [
            Finding(f.path, f.line, f.what, "private attribute of an SDK object")
            for f in scanner.foreign
            if defined_by_an_sdk(f.what.rsplit(".", 1)[-1])
        ]
    return findings


@cache
def repo_findings() -> tuple[Finding, ...]:
    return tuple(scan({str(p.relative_to(ROOT)): p.read_text() for p in repo_files()}))


# --------------------------------------------------------------------------- the repository


def test_no_private_sdk_names_and_nothing_of_the_sdks_replaced():
    findings = [str(f) for f in repo_findings()]
    assert not findings, "\n".join(findings)


def test_the_scan_reads_every_folder():
    scanned = {str(p.relative_to(ROOT)).split("/")[0] for p in repo_files()}
    assert scanned == {"__main__.py", *FOLDERS}
    assert (ROOT / "tests" / "e2e" / "conftest.py") in repo_files()


# --------------------------------------------------------------------------- the scan itself

CAUGHT = {
    "from pulumi.runtime.rpc import _special_sig_key": "private SDK name",
    "import pulumi._utils": "private SDK module",
    "from pulumi_policy._x import y": "private SDK module",
    "import pulumi.runtime.config as c\nc._SECRET_KEYS.get()": "private SDK name",
    "import pulumi_policy.policy as p\np._PolicyAnalyzerServicer()": "private SDK name",
    "from pulumi import Output\nOutput._from_input_shallow(1)": "private SDK name",
    "import pulumi_kubernetes as k8s\ngetattr(k8s, '_utilities')": "private SDK name",
    "x = 'pulumi.runtime.rpc._special_secret_sig'": "private SDK name in a dotted path",
    "import pulumi\npulumi.export = print": "SDK attribute assigned at run time",
    "import pulumi_policy.policy as p\np.deserialize_properties = dict": "SDK attribute assigned",
    "import pulumi_docker as docker\ndel docker.Container": "SDK attribute deleted at run time",
    "import pulumi\nmonkeypatch.setattr(pulumi.log, 'warn', print)": "SDK replaced at run time",
    "monkeypatch.setattr('pulumi.log.warn', print)": "SDK replaced at run time",
    "from pulumi_kubernetes import core\nsetattr(core, 'v1', None)": "SDK replaced at run time",
    "from unittest import mock\nmock.patch('pulumi_random.RandomPassword')": "SDK replaced",
    "import pulumi\nfrom unittest import mock\nmock.patch.object(pulumi, 'export')": "SDK replaced",
    "def f(resource):\n    return resource._transformations": "private attribute of an SDK object",
}

CLEAN = [
    "import pulumi\npulumi.export('a', 1)\npulumi.Output.secret('x').__class__",
    "class A:\n    def __init__(self):\n        self._run = 1\n\n    def run(self):\n"
    "        return self._run",
    "import sys\nsys._getframe()",
    "import collections\nP = collections.namedtuple('P', 'a')\nP(1)._replace(a=2)",
    "import pulumi_policy.policy as p\nmonkeypatch.setattr(settings, 'x', 1)\np.Policy",
    "x = 'pulumi.runtime.Config'",
]


@pytest.mark.parametrize("source", sorted(CAUGHT), ids=lambda s: s.splitlines()[-1][:40])
def test_the_scan_catches(source):
    found = scan({"snippet.py": source}, repo_names=frozenset())
    assert len(found) == 1 and CAUGHT[source] in found[0].why, found


@pytest.mark.parametrize("source", CLEAN, ids=lambda s: s.splitlines()[-1][:40])
def test_the_scan_passes_public_use(source):
    assert scan({"snippet.py": source}) == []


# --------------------------------------------------------------------------- scripts and tests


def names_of_test_modules() -> set[str]:
    return {p.stem for p in (ROOT / "tests").rglob("*.py")} | {"tests"}


def imports_of_tests(path: str, source: str, tests: set[str]) -> Iterator[tuple[str, str]]:
    """(path, test module) for each import of a test module, also inside a code string."""
    for node in ast.walk(ast.parse(source)):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules = [node.module]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            modules = re.findall(r"(?m)^\s*(?:from|import)\s+([\w.]+)", node.value)
            if node.value == "tests" or node.value.startswith("tests/"):
                modules.append("tests")  # a path put on sys.path or handed to a child interpreter
        for module in modules:
            if module.split(".")[0] in tests:
                yield path, module.split(".")[0]


def scripts_test_imports() -> set[tuple[str, str]]:
    tests = names_of_test_modules()
    return {
        found
        for p in sorted((ROOT / "scripts").glob("*.py"))
        for found in imports_of_tests(str(p.relative_to(ROOT)), p.read_text(), tests)
    }


def test_scripts_import_no_test_module():
    assert scripts_test_imports() == set()


def test_the_scripts_check_catches_an_import_and_a_code_string():
    tests = {"harness", "e2e_support", "tests"}
    source = (
        "import json\nfrom e2e_support import Stack\nCODE = '''\nimport harness\n'''\n"
        "sys.path.insert(0, 'tests/e2e')\n"
    )
    assert set(imports_of_tests("scripts/x.py", source, tests)) == {
        ("scripts/x.py", "e2e_support"),
        ("scripts/x.py", "harness"),
        ("scripts/x.py", "tests"),
    }
