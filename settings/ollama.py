"""The `ollama` section: image, replicas, GPU, scheduling, resources, models, autoscaling."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from settings.base import (
    GI,
    DnsLabel,
    ExtendedResource,
    KeyedError,
    LabelKey,
    LabelValue,
    Model,
    Resources,
    Storage,
    check_label_key,
    number_as_text,
)
from settings.images import pinned_image
from settings.quantity import parse_quantity

# The pinned default; image refusals show it as the example.
OLLAMA_IMAGE = "ollama/ollama:0.32.15"


# Ollama's own name rules, as `model.ParseName` and `Name.IsValid` apply them to every pull
# (Ollama v0.32.15, package types/model): an optional tag after the last ':' that follows the last
# '/', then model, namespace and host from the right, split at '/'. Each part starts with a letter,
# digit or '_' and holds only those, '-' and '_' besides: the model and tag also '.', the host
# also '.' and ':' (a port); a namespace has no '.'. Host and namespace default to
# registry.ollama.ai and library, the tag to latest. Stricter than Ollama: no scheme (it would
# accept `http://host/ns/model` and pull over that protocol from any host) and no digest.
_NAME_PART = {
    "host": (r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,349}", "letters, digits, '_', '-', '.' and ':'"),
    "namespace": (r"[A-Za-z0-9_][A-Za-z0-9_-]{0,79}", "letters, digits, '_' and '-'"),
    "model": (r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}", "letters, digits, '_', '-' and '.'"),
    "tag": (r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}", "letters, digits, '_', '-' and '.'"),
}
_MODEL_EXAMPLE = "e.g. llama3.2:1b, qwen2.5:0.5b or hf.co/<user>/<repository>:<quantization>"


def model_name_problem(name: str) -> str | None:
    """Why Ollama would refuse to pull `name` (or this program refuses it), or None."""
    if "://" in name:
        return f"is a URL; Ollama pulls by name, not by URL ({_MODEL_EXAMPLE})"
    parts: dict[str, str] = {}
    rest = name
    if rest.rfind(":") > rest.rfind("/"):
        rest, _, parts["tag"] = rest.rpartition(":")
    for kind in ("model", "namespace"):
        rest, slash, parts[kind] = rest.rpartition("/")
        if not slash:
            break
    else:
        parts["host"] = rest
    for kind, text in parts.items():
        pattern, allowed = _NAME_PART[kind]
        if not re.fullmatch(pattern, text, re.ASCII):
            if not text:
                return f"is not a model name Ollama accepts: its {kind} is empty ({_MODEL_EXAMPLE})"
            return (
                f"is not a model name Ollama accepts: the {kind} part '{text}' may hold only "
                f"{allowed}, starting with a letter, digit or '_' ({_MODEL_EXAMPLE})"
            )
    return None


def _check_model_name(model: str) -> str:
    problem = model_name_problem(model)
    if problem is not None:
        raise ValueError(problem)
    return model


def _check_toleration_key(key: str) -> str:
    if not key:
        raise ValueError(
            "must name the taint, e.g. gpu-tesla-v100 (an empty key tolerates "
            "every taint of every node)"
        )
    return check_label_key(key)


# What Ollama v0.32.15 accepts for OLLAMA_KEEP_ALIVE (its envconfig.KeepAlive): a Go duration
# (time.ParseDuration: 5m, 1h30m, 0.5h, -1m) or integer seconds (300; negative = forever).
# Anything else, such as 1d or "30 min", silently becomes 5m there.
_GO_DURATION = re.compile(r"^[-+]?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$")
_INTEGER = re.compile(r"^[-+]?[0-9]+$")


def _check_keep_alive(value: str) -> str:
    if not (_GO_DURATION.match(value) or _INTEGER.match(value)):
        raise ValueError(
            "must be a Go duration such as 30m, 1h or 24h (no 'd' unit), or whole "
            "seconds such as 300; -1 keeps models loaded for ever (Ollama would "
            "silently use 5m instead)"
        )
    return value


ModelName = Annotated[str, AfterValidator(_check_model_name)]
KeepAlive = Annotated[str, BeforeValidator(number_as_text), AfterValidator(_check_keep_alive)]
TolerationKey = Annotated[str, AfterValidator(_check_toleration_key)]


class Toleration(Model):
    # Required: an empty key with operator Exists would tolerate every taint of every node.
    key: TolerationKey
    operator: Literal["Exists", "Equal"] = "Exists"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"

    @model_validator(mode="after")
    def _value_matches_operator(self) -> Toleration:
        if self.operator == "Exists" and self.value is not None:
            raise ValueError("operator Exists takes no value; drop 'value' or use Equal")
        if self.operator == "Equal" and self.value is None:
            raise ValueError("operator Equal needs a 'value'")
        return self


class Gpu(Model):
    enabled: bool = False
    count: int = Field(default=1, ge=1, le=8)
    resource_name: ExtendedResource = "nvidia.com/gpu"
    runtime_class_name: DnsLabel | None = None
    # ICC GPU images find the driver only with these paths (seen in every ICC GPU manifest).
    cuda_env: bool = False


class Autoscaling(Model):
    """An HPA on the Ollama StatefulSet (CPU). While it is on, it owns the replica count."""

    enabled: bool = False
    min_replicas: int = Field(default=1, ge=1, le=16)
    max_replicas: int = Field(default=2, ge=1, le=16)
    # Percent of the pods' CPU requests; above 100 is allowed (limits may exceed requests).
    target_cpu_utilization: int = Field(default=80, ge=10, le=400)

    @model_validator(mode="after")
    def _min_not_above_max(self) -> Autoscaling:
        if self.min_replicas > self.max_replicas:
            raise KeyedError(
                "ollama.autoscaling.minReplicas",
                self.min_replicas,
                f"must not exceed ollama.autoscaling.maxReplicas "
                f"({self.max_replicas}); lower minReplicas or raise maxReplicas",
            )
        return self


class Ollama(Model):
    image: Annotated[str, AfterValidator(pinned_image(OLLAMA_IMAGE))] = OLLAMA_IMAGE
    replicas: int = Field(default=1, ge=1, le=16)
    gpu: Gpu = Gpu()
    tolerations: tuple[Toleration, ...] = ()
    node_selector: dict[LabelKey, LabelValue] = {}
    resources: Resources
    storage: Storage
    models: tuple[ModelName, ...] = ("llama3.2:1b",)
    keep_alive: KeepAlive = "5m"
    num_parallel: int = Field(default=1, ge=1, le=64)
    max_loaded_models: int = Field(default=1, ge=0, le=16)
    # A first pull of a large model can take long; Pulumi waits this long for Ready.
    rollout_timeout_minutes: int = Field(default=30, ge=1, le=720)
    autoscaling: Autoscaling = Autoscaling()

    @model_validator(mode="after")
    def _room_for_a_model(self) -> Ollama:
        # Below this even the smallest chat model does not load; the pod would only crash-loop.
        if parse_quantity(self.resources.limits.memory) < GI:
            raise KeyedError(
                "ollama.resources.limits.memory",
                self.resources.limits.memory,
                "must be at least 1Gi: a model is loaded into this memory "
                "(llama3.2:1b needs about 2Gi)",
            )
        return self
