"""Comments name upstream behaviour and its version, never a file:line position upstream: those
positions move with every release and then point at unrelated code (issue 22 item 5)."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

from harness import ROOT

FOLDERS = ("components", "settings", "payloads", "tests")
# A file name, a colon and a line number (or a bare "(:line" after one): a position upstream.
POSITION = re.compile(r"\b[\w./-]+\.(?:go|py|ts|js|sh|ya?ml|tpl|json|toml|rs|c|h):\d+|\(:\d+")
# The model-loader script is hashed into the Ollama pod template: any byte changed there restarts
# every Ollama replica, so its two old references are rewritten with its next real change.
WAITING = {"payloads/model-loader.sh": 2}


def python_comments(source: str) -> list[str]:
    """Comments and docstrings: where prose about upstream lives (not strings the code uses)."""
    found = [
        token.string
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT
    ]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            found.append(ast.get_docstring(node) or "")
    return found


def comments(path: Path) -> list[str]:
    text = path.read_text()
    if path.suffix == ".py":
        return python_comments(text)
    return [line for line in text.splitlines() if line.lstrip().startswith("#")]


def program_files() -> list[Path]:
    files = [ROOT / "__main__.py"]
    for folder in FOLDERS:
        files += sorted(
            p for p in (ROOT / folder).rglob("*") if p.suffix in (".py", ".sh") and p.is_file()
        )
    return [p for p in files if "__pycache__" not in p.parts and "data" not in p.parts]


@pytest.mark.parametrize("path", program_files(), ids=lambda path: str(path.relative_to(ROOT)))
def test_comments_cite_no_upstream_file_positions(path):
    cited = [m for text in comments(path) for m in POSITION.findall(text)]
    assert len(cited) == WAITING.get(str(path.relative_to(ROOT)), 0), cited


def test_the_check_finds_a_position():
    source = '"""Doc (open_webui/main.py:349-352)."""\n# service.go:345 and (:416)\nX = "a.py:3"\n'
    found = sorted(m for text in python_comments(source) for m in POSITION.findall(text))
    assert found == ["(:416", "open_webui/main.py:349", "service.go:345"]
