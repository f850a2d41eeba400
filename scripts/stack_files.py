#!/usr/bin/env python3
"""Check that Pulumi.yaml and Pulumi.<stack>.yaml parse, before make hands them to the CLI.

    .venv/bin/python scripts/stack_files.py <stack>        (make up/preview/review/destroy)

What the CLI does not: its message for a broken stack file names the line but not the file
("invalid YAML file: yaml: line 3: ..."). Here a broken file is one line with the file, line
and column, and exit status 1; a missing stack file is fine (`pulumi stack init` makes it).
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def problem(path: Path) -> str | None:
    """One line describing why `path` is not valid YAML, or None."""
    try:
        yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path.name}:{mark.line + 1}:{mark.column + 1}" if mark else path.name
        what = getattr(error, "problem", None) or str(error).splitlines()[0]
        return f"{where}: not valid YAML ({what}); fix the file (git diff {path.name} shows edits)"
    return None


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.split("\n\n")[1].strip(), file=sys.stderr)
        return 2
    files = [ROOT / "Pulumi.yaml", ROOT / f"Pulumi.{argv[1]}.yaml"]
    problems = [line for path in files if path.exists() and (line := problem(path))]
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
