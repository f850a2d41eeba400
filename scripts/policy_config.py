#!/usr/bin/env python3
"""Write the policy pack's config for one stack from its validated settings; print the file's path.

    .venv/bin/python scripts/policy_config.py <stack> [--out FILE]

The pack (policy/) needs the stack's facts: target, namespace, keepDataOnDestroy and quota. They
come from the same validation the program runs (settings.parse_settings, target
defaults included), fed with `pulumi config --json`. Secret values are never read: the CLI elides
them without --show-secrets, and a stand-in of the right length takes their place (no fact
depends on a secret). An invalid setting stops here with the program's own one-line message.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "policy")]

from settings import PROJECT, Settings, SettingsError, parse_settings  # noqa: E402

SECRET_STAND_IN = "s" * 64  # only so validation passes; facts never depend on a secret


def stack_config(listing: Mapping[str, Mapping[str, Any]]) -> tuple[dict[str, str], frozenset[str]]:
    """`pulumi config --json` output -> (raw values without the project prefix, secret keys)."""
    prefix = f"{PROJECT}:"
    raw, secret = {}, set()
    for key, entry in listing.items():
        if not key.startswith(prefix):
            continue
        name = key[len(prefix) :]
        if entry.get("secret"):
            secret.add(name)
        raw[name] = entry["value"] if entry.get("value") is not None else SECRET_STAND_IN
    return raw, frozenset(secret)


def facts(settings: Settings) -> dict[str, Any]:
    return {
        "target": settings.target,
        "namespace": settings.namespace if settings.kubernetes else None,
        "keepDataOnDestroy": settings.keep_data_on_destroy,
        "quota": settings.quota.model_dump(mode="json", exclude_none=True),
    }


def read_listing(
    stack: str, project_dir: Path = ROOT, config_file: Path | None = None
) -> dict[str, Any]:
    extra = ["--config-file", str(config_file)] if config_file else []
    proc = subprocess.run(
        ["pulumi", "config", "--json", "--stack", stack, *extra],
        cwd=project_dir,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        sys.exit(f"pulumi config --json --stack {stack} failed: {proc.stderr.strip()}")
    return json.loads(proc.stdout or "{}")


def default_out(stack: str) -> Path:
    home = Path(os.environ.get("ICC_OLLAMA_HOME", Path.home() / ".icc-ollama"))
    return home / f"policy-config-{stack}.json"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack")
    parser.add_argument(
        "--out",
        type=Path,
        help="where to write it (default: $ICC_OLLAMA_HOME/policy-config-<stack>.json)",
    )
    parser.add_argument(
        "--project-dir",
        type=Path,
        default=ROOT,
        help="the Pulumi project holding Pulumi.<stack>.yaml",
    )
    parser.add_argument(
        "--config-file",
        type=Path,
        help="the stack's config file, if not Pulumi.<stack>.yaml (scripts/up.sh "
        "merges the shared file with the user's own)",
    )
    args = parser.parse_args(argv)
    import pack  # policy/pack.py: the policy names the config is keyed by

    raw, secret = stack_config(read_listing(args.stack, args.project_dir, args.config_file))
    try:
        settings = parse_settings(raw, secret)
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 1
    out = args.out or default_out(args.stack)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(pack.pack_config(facts(settings)), indent=2) + "\n")
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
