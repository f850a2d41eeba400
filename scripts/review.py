#!/usr/bin/env python3
"""A Markdown review of one stack preview, fit to paste into a merge request.

    make review STACK=icc                       (passes --policy-pack policy)
    .venv/bin/python scripts/review.py icc [--out FILE]
    .venv/bin/python scripts/review.py icc --from-json preview.json   (saved digest or events)

It runs `pulumi preview --json` with the policy pack and PULUMI_ENABLE_STREAMING_JSON_PREVIEW set,
so the CLI prints the engine's events as JSON lines instead of its digest: the steps with old and
new state, diagnostics, outputs, the change summary and the policy events (violations and the
per-policy pass/fail summaries, which the plain digest leaves out). It renders only that
structured output, never the human-readable preview text. `render()` is pure and also takes a
plain `pulumi preview --json` digest (then without policy results).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "policy"), str(ROOT / "scripts")]

from review_report import render  # noqa: E402

# --------------------------------------------------------------------------- running a preview


def parse_output(text: str) -> dict | list:
    """A plain digest (one JSON document) or streamed engine events (one JSON object a line)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def run_preview(
    stack: str, extra: list[str], project_dir: Path = ROOT, pack: Path = ROOT / "policy"
) -> tuple[list, int]:
    """`pulumi preview --json` as engine events, with the pack (which finds the stack's facts
    itself, policy/facts.py): (events, exit code)."""
    env = {**os.environ, "PULUMI_ENABLE_STREAMING_JSON_PREVIEW": "true"}
    proc = subprocess.run(
        [
            "pulumi",
            "preview",
            "--stack",
            stack,
            "--json",
            "--non-interactive",
            "--policy-pack",
            str(pack),
            *extra,
        ],
        cwd=project_dir,
        env=env,
        capture_output=True,
        text=True,
    )
    try:
        events = parse_output(proc.stdout)
    except json.JSONDecodeError:
        events = None
    if not isinstance(events, list) or not events:
        sys.exit(
            f"pulumi preview --json gave no engine events (exit {proc.returncode}):\n"
            f"{(proc.stderr or proc.stdout).strip()[-3000:]}"
        )
    return events, proc.returncode


def default_out(stack: str) -> Path:
    home = Path(os.environ.get("ICC_OLLAMA_HOME", Path.home() / ".icc-ollama"))
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return home / "reviews" / f"review-{stack}-{stamp}.md"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack")
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--from-json",
        type=Path,
        help="render a saved `pulumi preview --json` (digest or streamed events)",
    )
    parser.add_argument("--project-dir", type=Path, default=ROOT)
    parser.add_argument(
        "--policy-pack",
        type=Path,
        default=ROOT / "policy",
        help="the pack folder (or an executable analyzer)",
    )
    args, extra = parser.parse_known_args(argv)
    if args.from_json:
        preview, code = parse_output(args.from_json.read_text()), 0
    else:
        preview, code = run_preview(args.stack, extra, args.project_dir, args.policy_pack)
    out = args.out or default_out(args.stack)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(preview, stack=args.stack))
    print(f"Review of stack {args.stack} written to {out}")
    if code != 0:
        print(f"(the preview itself failed with exit code {code}; see the report)", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
