"""The one settings model of icc-ollama: every stack setting, its type, its default per target.

`parse_settings` is a pure function (raw config strings in, a frozen `Settings` out) so it can be
tested without Pulumi. `load_settings` is the thin adapter that collects the stack's config and
turns any problem into one `pulumi.RunError` that names the key, the value and the fix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Optional

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel

PROJECT = "icc-ollama"
TARGETS = ("icc", "minikube", "docker")
SECRET_KEYS = ("webuiSecretKey", "openaiApiKey")

_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# ICC login `infwXYZ123` owns exactly one namespace, `wXYZ123-default`.
_ICC_NAMESPACE = re.compile(r"^w[a-z0-9]+-default$")
_FLOATING_TAGS = {"latest", "main", "dev", "nightly"}


class SettingsError(Exception):
    """Invalid stack settings; the message is ready to show to the user."""


def _quantity_text(value: Any) -> Any:
    # YAML turns `cpu: 2` into a number; Kubernetes quantities are strings.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


def _check_quantity(value: str) -> str:
    if not _QUANTITY.match(value):
        raise ValueError("must be a Kubernetes quantity such as 500m, 2, 512Mi or 20Gi")
    return value


def _check_pinned_image(image: str) -> str:
    if "@sha256:" in image:
        return image
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        raise ValueError("must name a pinned tag, e.g. ollama/ollama:0.32.15")
    if tag in _FLOATING_TAGS:
        raise ValueError(f"tag '{tag}' floats; pin a version such as ollama/ollama:0.32.15")
    return image


def _check_dns_label(value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.match(value):
        raise ValueError("must be a DNS label: lower-case letters, digits and '-', at most 63")
    return value


Quantity = Annotated[str, BeforeValidator(_quantity_text), AfterValidator(_check_quantity)]
PinnedImage = Annotated[str, AfterValidator(_check_pinned_image)]
DnsLabel = Annotated[str, AfterValidator(_check_dns_label)]


class _Model(BaseModel):
    """Frozen, unknown keys rejected, camelCase keys as in `pulumi config`."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True
    )


class ResourceAmounts(_Model):
    cpu: Quantity
    memory: Quantity


class Resources(_Model):
    requests: ResourceAmounts
    limits: ResourceAmounts


class Toleration(_Model):
    key: str
    operator: Literal["Exists", "Equal"] = "Exists"
    value: Optional[str] = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"

    @model_validator(mode="after")
    def _value_matches_operator(self) -> "Toleration":
        if self.operator == "Exists" and self.value is not None:
            raise ValueError("operator Exists takes no value; drop 'value' or use Equal")
        if self.operator == "Equal" and self.value is None:
            raise ValueError("operator Equal needs a 'value'")
        return self


class Gpu(_Model):
    enabled: bool = False
    count: int = Field(default=1, ge=1, le=8)
    resource_name: str = "nvidia.com/gpu"
    runtime_class_name: Optional[DnsLabel] = None
    # ICC GPU images find the driver only with these paths (seen in every ICC GPU manifest).
    cuda_env: bool = False


class Storage(_Model):
    size: Quantity
    storage_class: Optional[DnsLabel] = None


class Ollama(_Model):
    image: PinnedImage = "ollama/ollama:0.32.15"
    replicas: int = Field(default=1, ge=1, le=16)
    gpu: Gpu = Gpu()
    tolerations: tuple[Toleration, ...] = ()
    node_selector: dict[str, str] = {}
    resources: Resources
    storage: Storage
    models: tuple[str, ...] = ("llama3.2:1b",)
    keep_alive: str = "5m"
    num_parallel: int = Field(default=1, ge=1, le=64)
    max_loaded_models: int = Field(default=1, ge=0, le=16)
    # A first pull of a large model can take long; Pulumi waits this long for Ready.
    rollout_timeout_minutes: int = Field(default=30, ge=1, le=720)

    @model_validator(mode="after")
    def _models_are_names(self) -> "Ollama":
        for model in self.models:
            if not re.match(r"^[a-zA-Z0-9][a-zA-Z0-9._/:-]*$", model):
                raise ValueError(f"model '{model}' is not an Ollama model name like llama3.2:1b")
        return self


class OpenAi(_Model):
    enabled: bool = False
    base_url: str = "https://api.openai.com/v1"

    @model_validator(mode="after")
    def _url_is_http(self) -> "OpenAi":
        if not re.match(r"^https?://[^\s/]+", self.base_url):
            raise ValueError(f"baseUrl '{self.base_url}' must be an http(s) URL")
        return self


class WebUi(_Model):
    image: PinnedImage = "ghcr.io/open-webui/open-webui:v0.11.0"
    resources: Resources
    storage: Storage
    auth: bool = True
    enable_signup: bool = True
    default_user_role: Literal["pending", "user", "admin"] = "pending"
    # False: the stack config is the truth and wins over settings saved in the UI at each start.
    persistent_config: bool = False
    openai: OpenAi = OpenAi()
    local_port: int = Field(default=8080, ge=1024, le=65535)


class NetworkPolicies(_Model):
    # Default-deny ingress for this release's pods; Ollama only from Open WebUI and the scraper.
    enabled: bool = True
    ingress_controller_namespace: DnsLabel = "ingress-nginx"


class Settings(_Model):
    target: Literal["icc", "minikube", "docker"]
    namespace: DnsLabel
    create_namespace: bool
    kubeconfig: Optional[str] = None
    kube_context: Optional[str] = None
    # Claims holding models and chat history outlive `pulumi destroy` unless this is false.
    keep_data_on_destroy: bool = True
    ollama: Ollama
    webui: WebUi
    network_policies: NetworkPolicies = NetworkPolicies()
    webui_secret_key: SecretStr
    openai_api_key: Optional[SecretStr] = None

    @model_validator(mode="after")
    def _target_rules(self) -> "Settings":
        if self.target == "icc":
            if not _ICC_NAMESPACE.match(self.namespace):
                raise _KeyError("namespace", self.namespace,
                                "must be your ICC namespace w<id>-default (login infwXYZ123 owns "
                                "wXYZ123-default); fix with `pulumi config set namespace wXYZ123-default`")
            if self.create_namespace:
                raise _KeyError("createNamespace", True,
                                "ICC users cannot create namespaces; set it to false")
        if self.target == "minikube" and self.ollama.gpu.enabled:
            raise _KeyError("ollama.gpu.enabled", True,
                            "the minikube target has no GPU; set ollama.gpu.enabled to false")
        if len(self.webui_secret_key.get_secret_value()) < 32:
            raise _KeyError("webuiSecretKey", "(secret)",
                            "use at least 32 characters, e.g. `openssl rand -hex 32`")
        if self.webui.openai.enabled and self.openai_api_key is None:
            raise _KeyError("openaiApiKey", None,
                            "webui.openai.enabled is true; set the key with "
                            "`pulumi config set --secret openaiApiKey <key>`")
        return self

    @property
    def kubernetes(self) -> bool:
        return self.target in ("icc", "minikube")


class _KeyError(ValueError):
    """A rule that spans fields, pinned to the key the user must change."""

    def __init__(self, key: str, given: Any, fix: str):
        super().__init__(fix)
        self.key, self.given, self.fix = key, given, fix


def _icc_defaults() -> dict[str, Any]:
    return {
        "createNamespace": False,
        "ollama": {
            "replicas": 1,
            "gpu": {"enabled": True, "count": 1, "cudaEnv": True},
            "tolerations": [{"key": "gpu-tesla-v100", "operator": "Exists", "effect": "NoSchedule"}],
            "resources": {"requests": {"cpu": "1", "memory": "8Gi"},
                          "limits": {"cpu": "4", "memory": "16Gi"}},
            "storage": {"size": "20Gi", "storageClass": "rook-ceph-block"},
            "keepAlive": "30m",
            "numParallel": 2,
            "maxLoadedModels": 2,
        },
        "webui": {
            "resources": {"requests": {"cpu": "250m", "memory": "1Gi"},
                          "limits": {"cpu": "1", "memory": "2Gi"}},
            "storage": {"size": "5Gi", "storageClass": "rook-ceph-block"},
        },
    }


def _minikube_defaults() -> dict[str, Any]:
    return {
        "namespace": "icc-ollama",
        "createNamespace": True,
        "kubeContext": "minikube",
        "ollama": {
            "replicas": 2,
            "resources": {"requests": {"cpu": "500m", "memory": "2Gi"},
                          "limits": {"cpu": "2", "memory": "4Gi"}},
            "storage": {"size": "10Gi"},
        },
        "webui": {
            "resources": {"requests": {"cpu": "250m", "memory": "512Mi"},
                          "limits": {"cpu": "1", "memory": "2Gi"}},
            "storage": {"size": "2Gi"},
        },
    }


def _docker_defaults() -> dict[str, Any]:
    return {
        "namespace": "icc-ollama",
        "createNamespace": False,
        "ollama": {
            "resources": {"requests": {"cpu": "1", "memory": "2Gi"},
                          "limits": {"cpu": "4", "memory": "8Gi"}},
            "storage": {"size": "20Gi"},
        },
        "webui": {
            "resources": {"requests": {"cpu": "250m", "memory": "512Mi"},
                          "limits": {"cpu": "1", "memory": "2Gi"}},
            "storage": {"size": "2Gi"},
        },
    }


TARGET_DEFAULTS = {"icc": _icc_defaults, "minikube": _minikube_defaults, "docker": _docker_defaults}


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _decode(value: Any) -> Any:
    # The CLI hands every value over as a string; objects and lists arrive JSON-encoded.
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError as error:
            raise SettingsError(f"not valid JSON ({error.msg})") from None
    return value


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
    return f"pulumi config set {key} <value>"


def _describe(error: dict[str, Any], raw: Mapping[str, Any]) -> str:
    ctx = error.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, _KeyError):
        key, given, fix = cause.key, cause.given, cause.fix
        shown = "" if given is None else f" (given: {_show(given)})"
        return f"{PROJECT}:{key}{shown}: {fix}"
    loc = [str(part) for part in error["loc"]]
    key = _config_path(loc)
    message = str(cause) if cause is not None else error["msg"]
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
        try:
            decoded[key] = _decode(value)
        except SettingsError as error:
            raise SettingsError(f"{PROJECT}:{key}: {error}") from None
    for key in SECRET_KEYS:
        if key in decoded and key not in secret_keys:
            raise SettingsError(
                f"{PROJECT}:{key}: stored in plain text; set it again with "
                f"`pulumi config set --secret {key} <value>`")
    target = decoded.get("target")
    if target not in TARGETS:
        allowed = ", ".join(TARGETS)
        raise SettingsError(
            f"{PROJECT}:target (given: {_show(target)}): must be one of {allowed}; "
            f"fix with `pulumi config set target <{'|'.join(TARGETS)}>`")
    merged = _deep_merge(TARGET_DEFAULTS[target](), decoded)
    try:
        return Settings.model_validate(merged)
    except ValidationError as error:
        lines = [_describe(item, merged) for item in error.errors()]
        raise SettingsError("invalid stack settings:\n  " + "\n  ".join(lines)) from None


def _stack_config() -> tuple[dict[str, Any], frozenset[str]]:
    """All `icc-ollama:*` keys of the running stack, from the CLI or from a test's mock config."""
    import pulumi.runtime.config as runtime_config  # the SDK has no public "all keys" call

    prefix = f"{PROJECT}:"
    merged = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    raw = {key[len(prefix):]: value for key, value in merged.items() if key.startswith(prefix)}
    secret = frozenset(key[len(prefix):] for key in raw_secret_keys() if key.startswith(prefix))
    return raw, secret


def raw_secret_keys() -> set[str]:
    import pulumi.runtime.config as runtime_config

    return set(runtime_config._SECRET_KEYS.get()) | set(runtime_config.get_config_secret_keys_env())


def load_settings() -> Settings:
    """Read and validate the stack's settings; a problem stops the program with one RunError."""
    import pulumi

    raw, secret = _stack_config()
    try:
        return parse_settings(raw, secret)
    except SettingsError as error:
        raise pulumi.RunError(str(error)) from None
