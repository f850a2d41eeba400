"""Stack config files for scripts/up.sh: the team's defaults plus one user's own values.

The tracked `Pulumi.<stack>.yaml` holds what the team shares (target, models, comments). Each
user's own values (the passphrase salt, generated secrets, the namespace, any override) live in
`~/.icc-ollama/stacks/<stack>.yaml`. Before each run the two are merged into one file that is
passed to the CLI with `--config-file`, which takes exactly one file (pulumi v3.259.0
pkg/cmd/pulumi/operations/up.go:769, a StringVar), so nothing a user sets ever lands in git.

  stack_config.py merge <shared> <own> <out>      own values win; maps merge key by key
  stack_config.py monitoring <merged>             prints true when Grafana needs a password
  stack_config.py shared-secrets <shared>         prints what a shared file must not hold
  stack_config.py strip-secrets <own> <out>       a copy without salt and secrets
"""

import sys
from pathlib import Path
from typing import Any

import yaml

PROJECT = "icc-ollama"
# Mirrors TARGET_DEFAULTS in settings/targets.py (tests/test_up_script.py checks that it does).
MONITORING_BY_DEFAULT = {"icc": False, "minikube": True, "docker": False}


def read(path: str) -> dict[str, Any]:
    file = Path(path)
    loaded = yaml.safe_load(file.read_text()) if file.exists() else None
    return loaded or {}


def write(path: str, document: dict[str, Any]) -> None:
    Path(path).write_text(yaml.safe_dump(document, sort_keys=False))


def deep_merge(base: Any, override: Any) -> Any:
    if not (isinstance(base, dict) and isinstance(override, dict)):
        return override
    merged = dict(base)
    for key, value in override.items():
        merged[key] = deep_merge(merged[key], value) if key in merged else value
    return merged


def merge(shared: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    """Shared config with the user's values on top; the salt only ever comes from the user."""
    merged = {
        key: value for key, value in shared.items() if key not in ("config", "encryptionsalt")
    }
    merged["config"] = deep_merge(shared.get("config") or {}, own.get("config") or {})
    if "encryptionsalt" in own:
        merged["encryptionsalt"] = own["encryptionsalt"]
    return merged


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def monitoring_enabled(document: dict[str, Any]) -> bool:
    config = document.get("config") or {}
    dotted = config.get(f"{PROJECT}:monitoring.enabled")  # set without --path; settings refuse it
    block = config.get(f"{PROJECT}:monitoring")
    if isinstance(block, dict) and "enabled" in block:
        return _truthy(block["enabled"])
    if dotted is not None:
        return _truthy(dotted)
    return MONITORING_BY_DEFAULT.get(str(config.get(f"{PROJECT}:target")), False)


def _has_secure(value: Any) -> bool:
    if isinstance(value, dict):
        return "secure" in value or any(_has_secure(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_secure(item) for item in value)
    return False


def shared_secrets(document: dict[str, Any]) -> list[str]:
    found = ["encryptionsalt"] if "encryptionsalt" in document else []
    config = document.get("config") or {}
    return found + [key for key, value in config.items() if _has_secure(value)]


def strip_secrets(document: dict[str, Any]) -> dict[str, Any]:
    config = document.get("config") or {}
    return {"config": {key: value for key, value in config.items() if not _has_secure(value)}}


def main(argv: list[str]) -> int:
    command, args = argv[0], argv[1:]
    if command == "merge":
        write(args[2], merge(read(args[0]), read(args[1])))
    elif command == "monitoring":
        print("true" if monitoring_enabled(read(args[0])) else "false")
    elif command == "shared-secrets":
        print(" ".join(shared_secrets(read(args[0]))))
    elif command == "strip-secrets":
        write(args[1], strip_secrets(read(args[0])))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
