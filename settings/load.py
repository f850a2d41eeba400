"""Stack config in, frozen `Settings` out; every problem becomes one line naming key and fix.

`parse_settings` is a pure function (raw config strings in, a frozen `Settings` out) so it can be
tested without Pulumi. `load_settings` is the thin adapter that collects the stack's config and
turns any problem into one `pulumi.RunError`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from settings.base import KeyedError
from settings.stack import Settings
from settings.targets import TARGET_DEFAULTS, TARGETS, deep_merge

PROJECT = "icc-ollama"
SECRET_KEYS = ("webuiSecretKey", "webuiAdminPassword", "openaiApiKey", "grafanaAdminPassword")


class SettingsError(Exception):
    """Invalid stack settings; the message is ready to show to the user."""


# Sections set with `pulumi config set --path`: the CLI hands them over JSON-encoded. Every other
# key is a plain string (a password or a kubeconfig may well start with "[" or "{").
_STRUCTURED = frozenset(
    field.alias or name
    for name, field in Settings.model_fields.items()
    if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
)
_FIELDS = frozenset(field.alias or name for name, field in Settings.model_fields.items())
# pydantic's words for a wrong shape, in the words of the config file.
_SHAPES = {
    "model_type": "must be a block of settings (key: value), not a single value",
    "model_attributes_type": "must be a block of settings (key: value), not a single value",
    "dict_type": "must be a block of key: value pairs",
    "tuple_type": "must be a list, e.g. [a, b] in the stack file",
    "list_type": "must be a list, e.g. [a, b] in the stack file",
    "string_type": "must be text",
}


def _decode(key: str, value: Any) -> Any:
    if key in _STRUCTURED and isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise SettingsError(
                f"must be a block of settings, not a single value; set its keys "
                f"with `pulumi config set --path {key}.<setting> <value>`"
            ) from None
    return value


def _dotted_key(key: str) -> SettingsError:
    """`pulumi config set monitoring.enabled false` without --path makes a top-level key with a
    dot in its name; say so, and how to move the value where it belongs."""
    return SettingsError(
        f"{PROJECT}:{key}: a key with a dot in its name, set without --path; move it with "
        f"`pulumi config rm '{key}'` and then `pulumi config set --path {key} <value>`"
    )


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 60 else text[:57] + "..."


def _config_path(loc: list[str]) -> str:
    # `pulumi config set --path` writes list items as key[0], not key.0.
    path = ""
    for part in loc:
        path += f"[{part}]" if part.isdigit() else (f".{part}" if path else part)
    return path


def _fix_hint(key: str) -> str:
    top = key.split(".")[0].split("[")[0]
    if top in SECRET_KEYS:
        return f"pulumi config set --secret {top} <value>"
    if "." in key or "[" in key:
        return f"pulumi config set --path '{key}' <value>"
    if key in _STRUCTURED:
        return f"pulumi config set --path {key}.<setting> <value>"
    return f"pulumi config set {key} <value>"


def _describe(error: Mapping[str, Any]) -> str:
    ctx = error.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, KeyedError):
        key, given, fix = cause.key, cause.given, cause.fix
        if cause.relative:
            key = _config_path([str(part) for part in error["loc"]] + key.split("."))
        shown = "" if given is None else f" (given: {_show(given)})"
        return f"{PROJECT}:{key}{shown}: {fix}"
    loc = [str(part) for part in error["loc"]]
    if loc[-1] == "[key]":  # a bad key inside a mapping such as ollama.nodeSelector
        block = _config_path(loc[:-2])
        return (
            f"{PROJECT}:{block} (given key: {_show(loc[-2])}): {cause or error['msg']}; "
            f"remove it with `pulumi config rm --path '{block}[\"{loc[-2]}\"]'`"
        )
    key = _config_path(loc)
    message = str(cause) if cause is not None else _SHAPES.get(error["type"], error["msg"])
    if error["type"] == "extra_forbidden":
        return f"{PROJECT}:{key}: unknown setting; remove it with `pulumi config rm --path '{key}'`"
    if error["type"] == "missing":
        return f"{PROJECT}:{key}: required; set it with `{_fix_hint(key)}`"
    given = error.get("input")
    shown = "(secret)" if loc[0] in SECRET_KEYS else _show(given)
    return f"{PROJECT}:{key} (given: {shown}): {message}; fix with `{_fix_hint(key)}`"


def parse_settings(raw: Mapping[str, Any], secret_keys: frozenset[str] = frozenset()) -> Settings:
    """Validate the project's config (keys without the `icc-ollama:` prefix) into Settings."""
    decoded: dict[str, Any] = {}
    for key, value in raw.items():
        if "." in key and key.split(".")[0] in _FIELDS:
            raise _dotted_key(key)
        try:
            decoded[key] = _decode(key, value)
        except SettingsError as error:
            raise SettingsError(f"{PROJECT}:{key}: {error}") from None
    for key in SECRET_KEYS:
        if key in decoded and key not in secret_keys:
            raise SettingsError(
                f"{PROJECT}:{key}: stored in plain text; set it again with "
                f"`pulumi config set --secret {key} <value>`"
            )
    target = decoded.get("target")
    if target not in TARGETS:
        allowed = ", ".join(TARGETS)
        raise SettingsError(
            f"{PROJECT}:target (given: {_show(target)}): must be one of {allowed}; "
            f"fix with `pulumi config set target <{'|'.join(TARGETS)}>`"
        )
    merged = deep_merge(TARGET_DEFAULTS[target](), decoded)
    try:
        return Settings.model_validate(merged)
    except ValidationError as error:
        lines = [_describe(item) for item in error.errors()]
        raise SettingsError("invalid stack settings:\n  " + "\n  ".join(lines)) from None


# What the scripts beside the program put where a secret is: they never need its value, and
# `pulumi config --json` shows none.
SECRET_STAND_IN = "stand-in-for-a-secret-a-script-never-reads-00000"


def parse_cli_config(shown: str) -> Settings:
    """Settings from the text `pulumi config --json --stack <stack>` prints, for the scripts that
    run beside the program (scripts/backups.py, scripts/docker_preflight.py): the project's keys,
    objects as the JSON text the program gets too, every secret as SECRET_STAND_IN. A setting
    `pulumi up` would refuse is a SettingsError, as in parse_settings."""
    prefix = f"{PROJECT}:"
    raw: dict[str, Any] = {}
    secret: set[str] = set()
    for key, entry in json.loads(shown).items():
        if not key.startswith(prefix):
            continue
        name = key[len(prefix) :]
        if entry.get("secret"):
            raw[name] = SECRET_STAND_IN
            secret.add(name)
        else:
            raw[name] = entry.get("value")
    return parse_settings(raw, frozenset(secret))


def _stack_config() -> tuple[dict[str, Any], frozenset[str]]:
    """Every `icc-ollama:*` key of the running stack, through the SDK's public config API.

    The keys are the ones the language host hands the program (`pulumi.runtime.get_config_env`,
    so an unknown key is seen and refused) plus every setting the model knows; each value is read
    with `pulumi.Config`, and `pulumi.runtime.is_config_secret` tells which were set with
    `--secret`."""
    import pulumi

    config = pulumi.Config(PROJECT)
    prefix = f"{PROJECT}:"
    given = {
        key[len(prefix) :] for key in pulumi.runtime.get_config_env() if key.startswith(prefix)
    }
    raw: dict[str, Any] = {}
    for key in sorted(given | _FIELDS):
        value = config.get(key)
        if value is not None:
            raw[key] = value
    secret = frozenset(key for key in raw if pulumi.runtime.is_config_secret(prefix + key))
    return raw, secret


def load_settings() -> Settings:
    """Read and validate the stack's settings; a problem stops the program with one RunError."""
    import pulumi

    raw, secret = _stack_config()
    try:
        return parse_settings(raw, secret)
    except SettingsError as error:
        raise pulumi.RunError(str(error)) from None
