"""A stand-in for the `pulumi` CLI, for tests/test_up_script.py (no real CLI needed).

It records every call (argv, cwd, and for preview/up/destroy which keys the config file held) as
JSON lines in $FAKE_PULUMI_LOG and keeps just enough state to behave like pulumi 3.259.0 where
scripts/up.sh relies on it: stacks in the file:// backend, stack config files rewritten whole
(comments dropped, as the real CLI does), a passphrase salt per stack config file, and secrets
that only the right passphrase decrypts. Without --config-file it reads and writes
Pulumi.<stack>.yaml next to Pulumi.yaml, like the real CLI, so a script that forgets the flag
dirties the tracked file.
"""

import base64
import hashlib
import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any

import yaml

PROJECT = "icc-ollama"
VALUE_FLAGS = {
    "--stack",
    "-s",
    "--config-file",
    "--secrets-provider",
    "--policy-pack",
    "--policy-pack-config",
}


class Fail(Exception):
    pass


def parse(argv: list[str]) -> tuple[list[str], dict[str, Any]]:
    words, flags, i = [], {}, 0
    while i < len(argv):
        arg = argv[i]
        if arg in VALUE_FLAGS:
            flags["stack" if arg == "-s" else arg[2:]] = argv[i + 1]
            i += 2
            continue
        if arg.startswith("--"):
            flags[arg[2:]] = True
        else:
            words.append(arg)
        i += 1
    return words, flags


def backend_dir() -> Path:
    url = os.environ.get("PULUMI_BACKEND_URL")
    if not url:
        project = yaml.safe_load(Path("Pulumi.yaml").read_text())
        url = project["backend"]["url"]
    return Path(os.path.expanduser(url.removeprefix("file://"))) / ".pulumi" / "stacks" / PROJECT


def state_path(stack: str) -> Path:
    return backend_dir() / f"{stack}.json"


def load_state(stack: str) -> dict[str, Any]:
    path = state_path(stack)
    if not path.exists():
        raise Fail(f"no stack named '{stack}' found")
    return json.loads(path.read_text())


def save_state(stack: str, state: dict[str, Any]) -> None:
    path = state_path(stack)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state))


def passphrase() -> str:
    if "PULUMI_CONFIG_PASSPHRASE" in os.environ:
        return os.environ["PULUMI_CONFIG_PASSPHRASE"]
    if os.environ.get("PULUMI_CONFIG_PASSPHRASE_FILE"):
        return Path(os.environ["PULUMI_CONFIG_PASSPHRASE_FILE"]).read_text().strip()
    raise Fail(
        "passphrase must be set with PULUMI_CONFIG_PASSPHRASE or "
        "PULUMI_CONFIG_PASSPHRASE_FILE environment variables"
    )


def new_salt() -> str:
    nonce = secrets.token_hex(8)
    return f"v1:{nonce}:{hashlib.sha256((nonce + passphrase()).encode()).hexdigest()[:16]}"


def check_salt(salt: str) -> None:
    _, nonce, check = salt.split(":")
    if hashlib.sha256((nonce + passphrase()).encode()).hexdigest()[:16] != check:
        raise Fail("incorrect passphrase")


def config_path(stack: str, flags: dict[str, Any]) -> Path:
    if "config-file" in flags:
        return Path(flags["config-file"])
    if not Path("Pulumi.yaml").exists():
        raise Fail("no Pulumi.yaml project file found")
    return Path(f"Pulumi.{stack}.yaml")


def load_config(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text()) if path.exists() else None
    document = document or {}
    document.setdefault("config", {})
    return document


def save_config(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=True))


def secrets_manager(stack: str, path: Path, document: dict[str, Any]) -> None:
    """The salt from the file; else, like GetSecretsManager, the state's (with the fallback
    switched on) or a new one; a changed salt is saved to the config file."""
    if "encryptionsalt" in document:
        check_salt(document["encryptionsalt"])
        return
    if os.environ.get("PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER") == "true" and stack:
        document["encryptionsalt"] = load_state(stack)["salt"]
        check_salt(document["encryptionsalt"])
    else:
        document["encryptionsalt"] = new_salt()
    save_config(path, document)


def encrypt(value: str) -> dict[str, str]:
    return {"secure": "v1:" + base64.b64encode(value.encode()).decode()}


def decrypt(value: dict[str, str]) -> str:
    return base64.b64decode(value["secure"][3:]).decode()


def full_key(key: str) -> str:
    return key if ":" in key else f"{PROJECT}:{key}"


def lookup(config: dict[str, Any], key: str, path: bool) -> Any | None:
    if not path:
        return config.get(full_key(key))
    top, *rest = key.split(".")
    value = config.get(full_key(top))
    for part in rest:
        value = value.get(part) if isinstance(value, dict) else None
    return value


def store(config: dict[str, Any], key: str, value: Any, path: bool) -> None:
    if not path:
        config[full_key(key)] = value
        return
    top, *rest = key.split(".")
    if not rest:
        config[full_key(top)] = value
        return
    node = config.setdefault(full_key(top), {})
    for part in rest[:-1]:
        node = node.setdefault(part, {})
    node[rest[-1]] = value


def secure_keys(config: dict[str, Any]) -> list[str]:
    return sorted(
        key for key, value in config.items() if isinstance(value, dict) and "secure" in value
    )


def current_stack_file() -> Path:
    return Path(os.path.expanduser("~/.pulumi/workspaces/fake-current-stack"))


def stack_name(flags: dict[str, Any]) -> str:
    if "stack" in flags:
        return flags["stack"]
    if current_stack_file().exists():
        return current_stack_file().read_text()
    raise Fail("no stack selected; please use `pulumi stack select`")


def init_stack(name: str) -> None:
    """Like CreateStack: the salt goes into Pulumi.<stack>.yaml next to Pulumi.yaml."""
    if state_path(name).exists():
        raise Fail(f"stack '{name}' already exists")
    path = config_path(name, {})
    document = load_config(path)
    secrets_manager("", path, document)
    save_state(name, {"salt": document["encryptionsalt"], "outputs": {}})
    print(f"Created stack '{name}'")


def stack_cmd(words: list[str], flags: dict[str, Any]) -> None:
    if words and words[0] == "init":
        name = words[1] if len(words) > 1 else stack_name(flags)
        init_stack(name)
        if "no-select" not in flags:
            current_stack_file().parent.mkdir(parents=True, exist_ok=True)
            current_stack_file().write_text(name)
        return
    if words and words[0] == "select":
        name = words[1] if len(words) > 1 else stack_name(flags)
        if not state_path(name).exists():
            if "create" not in flags:
                raise Fail(f"no stack named '{name}' found")
            init_stack(name)
        current_stack_file().parent.mkdir(parents=True, exist_ok=True)
        current_stack_file().write_text(name)
        return
    stack = stack_name(flags)
    if words and words[0] == "output":
        outputs = load_state(stack)["outputs"]
        if len(words) > 1:
            print(json.dumps(outputs[words[1]]) if "json" in flags else outputs[words[1]])
        else:
            print(json.dumps(outputs))
    elif words and words[0] == "export":  # a deployment with nothing pending
        load_state(stack)
        print(json.dumps({"version": 3, "deployment": {"resources": []}}))
    elif not words and "show-name" in flags:
        load_state(stack)
        print(stack)
    else:
        raise Fail(f"fake pulumi: unsupported `stack {' '.join(words)}`")


def config_cmd(words: list[str], flags: dict[str, Any]) -> None:
    stack = stack_name(flags)
    load_state(stack)
    path = config_path(stack, flags)
    document = load_config(path)
    config, by_path = document["config"], "path" in flags
    if not words and "json" in flags:  # as the CLI prints it: secrets without their value
        listing = {
            key: {"secret": True}
            if key in secure_keys(config)
            else {"value": value if isinstance(value, str) else json.dumps(value), "secret": False}
            for key, value in config.items()
        }
        print(json.dumps(listing))
        return
    if not words:
        for key in sorted(config):
            print(key, "[secret]" if key in secure_keys(config) else json.dumps(config[key]))
        return
    verb, key = words[0], words[1]
    if verb == "get":
        value = lookup(config, key, by_path)
        if value is None:
            raise Fail(f"configuration key '{key}' not found for stack '{stack}'")
        if isinstance(value, dict) and "secure" in value:
            secrets_manager(stack, path, document)
            value = decrypt(value)
        print(value if isinstance(value, str) else json.dumps(value))
    elif verb == "set":
        raw = words[2] if len(words) > 2 else sys.stdin.read().rstrip("\n")
        if "secret" in flags:
            secrets_manager(stack, path, document)
            value: Any = encrypt(raw)
        else:
            value = {"true": True, "false": False}.get(raw, raw) if by_path else raw
        store(config, key, value, by_path)
        save_config(path, document)
    elif verb == "rm":
        if by_path and "." in key:
            top, *rest = key.split(".")
            node = config.get(full_key(top), {})
            for part in rest[:-1]:
                node = node.get(part, {})
            node.pop(rest[-1], None)
        else:
            config.pop(full_key(key), None)
        save_config(path, document)
    else:
        raise Fail(f"fake pulumi: unsupported `config {verb}`")


def operation(verb: str, flags: dict[str, Any], record: dict[str, Any]) -> None:
    stack = stack_name(flags)
    state = load_state(stack)
    path = config_path(stack, flags)
    document = load_config(path)
    config = document["config"]
    record["config"] = sorted(config)
    record["secrets"] = secure_keys(config)
    if record["secrets"]:
        if document.get("encryptionsalt") != state["salt"]:
            raise Fail("failed to decrypt: the config file's salt is not the stack's")
        check_salt(document["encryptionsalt"])
    if verb != "destroy" and "icc-ollama:webuiSecretKey" not in record["secrets"]:
        raise Fail("icc-ollama:webuiSecretKey: required")
    if verb == "up":
        state["outputs"] = {"nextSteps": f"kubectl -n {stack} port-forward svc/open-webui 8080"}
        save_state(stack, state)
    print(f"fake {verb} of {stack}: {len(config)} settings")


def main(argv: list[str]) -> int:
    words, flags = parse(argv)
    record: dict[str, Any] = {"argv": argv, "cwd": os.getcwd()}
    code = 0
    try:
        if words[:1] == ["stack"]:
            stack_cmd(words[1:], flags)
        elif words[:1] == ["config"]:
            config_cmd(words[1:], flags)
        elif words[:1] in (["preview"], ["up"], ["destroy"]):
            operation(words[0], flags, record)
        else:
            raise Fail(f"fake pulumi: unsupported command {argv}")
    except Fail as error:
        print(f"error: {error}", file=sys.stderr)
        code = 255
    record["rc"] = code
    with open(os.environ["FAKE_PULUMI_LOG"], "a") as log:
        log.write(json.dumps(record) + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
