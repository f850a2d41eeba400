"""The policy pack: each rule of policy/rules.py as a pulumi_policy policy, and the facts plumbing.

Enforcement (README "Reviewing a preview" has the reasons): every ICC rule is mandatory, because
each one either makes the cluster refuse the release, leaves a pod Pending, loses data or opens
the chat to the network. Only `stack-facts` is advisory: it says when the pack ran without the
stack's facts (a hand-run `pulumi preview --policy-pack policy` without --policy-pack-config), so
the target-dependent rules could not run.

The stack's facts (target, namespace, keepDataOnDestroy, quota) come from the pack's
configuration, which scripts/policy_config.py writes from the validated settings: the analyzer
protocol passes stack config only in ConfigureStack, which pulumi_policy 1.21.0 keeps to tags.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pulumi_policy
import pulumi_policy.policy as pulumi_policy_internals
import rules
import wire
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from wire import Facts, Resource

PACK_NAME = "icc-ollama-rules"
FACT_KEYS = ("target", "namespace", "keepDataOnDestroy", "quota")
FACTS_SCHEMA = PolicyConfigSchema(
    properties={
        "target": {"type": "string", "enum": ["icc", "minikube", "docker"]},
        "namespace": {"type": "string"},
        "keepDataOnDestroy": {"type": "boolean"},
        "quota": {"type": "object"},
    }
)

DESCRIPTIONS = {
    "gpu-tolerates-v100": "Every pod that requests a GPU tolerates the V100 taint "
    "(gpu-tesla-v100:NoSchedule).",
    "no-gpu-on-minikube": "No pod requests a GPU on the minikube target.",
    "icc-namespace-only": "On icc nothing is cluster-scoped and nothing lies outside the "
    "configured namespace.",
    "images-pinned": "Every image is pinned (a version tag, not a floating one, or a digest).",
    "no-plain-secrets": "No secret-looking value in plain env, annotations, ConfigMaps or "
    "unmarked Secret data.",
    "data-retained": "Claims holding models and chats survive `pulumi destroy` unless "
    "keepDataOnDestroy is false.",
    "requests-within-limits": "Every container's requests are at most its limits.",
    "ingress-tls": "Every Ingress has TLS for each of its hosts.",
    "default-deny-network-policy": "Kubernetes stacks have a default-deny NetworkPolicy and "
    "every pod is selected by an ingress policy.",
    "webui-auth-behind-ingress": "Open WebUI published through an Ingress has WEBUI_AUTH on.",
    "quota-fits": "The release's worst case fits the configured namespace quota.",
    "stack-facts": "The pack knows the stack's target, namespace, keepDataOnDestroy and quota "
    "(--policy-pack-config from scripts/policy_config.py).",
}
ADVISORY = {"stack-facts"}


def keep_secret_markers(props: Mapping[str, Any], proxy_secrets: bool = False) -> Any:
    """pulumi_policy.deserialize_properties, but a secret stays in its wire form.

    pulumi_policy 1.21.0 unwraps secrets before validation (deserialize.py
    _deserialize_property), so a policy could not tell a Pulumi secret from plain text; the
    engine does send the marker (pkg/resource/plugin/analyzer_plugin.go Analyze, KeepSecrets)."""
    if proxy_secrets:  # remediation keeps the library's own behaviour
        return _ORIGINAL_DESERIALIZE(props, True)
    return {key: _keep(value) for key, value in props.items()}


def _keep(value: Any) -> Any:
    if isinstance(value, list):
        return [_keep(v) for v in value]
    if isinstance(value, dict):
        if value.get(wire.SIG_KEY) == wire.SECRET_SIG:
            return {wire.SIG_KEY: wire.SECRET_SIG, "value": _keep(value.get("value"))}
        if wire.SIG_KEY in value:  # assets and archives: the library's decoding
            return _ORIGINAL_DESERIALIZE({"v": value})["v"]
        return {key: _keep(v) for key, v in value.items()}
    return value


_ORIGINAL_DESERIALIZE = pulumi_policy_internals.deserialize_properties


def install_wire_form() -> None:
    """Hand rules plain dicts with secret markers and unknown sentinels, as the mocks record them
    (pulumi_policy/policy.py Analyze and AnalyzeStack call these two module names)."""
    pulumi_policy_internals.deserialize_properties = keep_secret_markers
    pulumi_policy_internals.unknown_checking_proxy = lambda props: props


def facts_of(config: Mapping[str, Any] | None) -> Facts:
    return Facts.from_config(config)


def provider_namespace(provider: Any) -> str | None:
    if provider is None or provider.resource_type != "pulumi:providers:kubernetes":
        return None
    return wire.get(provider.props, "namespace")


def as_resource(
    type_: str, name: str, props: Mapping[str, Any], urn: str, provider: Any
) -> Resource:
    return Resource(type_, name, props, urn, provider_namespace(provider))


def resource_policy(
    name: str, rule: Callable[[Resource, Facts], list[str]]
) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        resource = as_resource(args.resource_type, args.name, args.props, args.urn, args.provider)
        for message in rule(resource, facts_of(args.get_config())):
            report(message, args.urn)

    return ResourceValidationPolicy(
        name, DESCRIPTIONS[name], validate, EnforcementLevel.MANDATORY, FACTS_SCHEMA
    )


def stack_resources(args: StackValidationArgs) -> list[Resource]:
    return [
        as_resource(r.resource_type, r.name, r.props, r.urn, r.provider) for r in args.resources
    ]


def stack_policy(
    name: str, rule: Callable[[list[Resource], Facts], list[str]]
) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        for message in rule(stack_resources(args), facts_of(args.get_config())):
            report(message)

    return StackValidationPolicy(
        name, DESCRIPTIONS[name], validate, EnforcementLevel.MANDATORY, FACTS_SCHEMA
    )


def facts_policy() -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        if not facts_of(args.get_config()).known:
            report(
                "the pack ran without the stack's facts, so no-gpu-on-minikube, "
                "icc-namespace-only and quota-fits did not run and data-retained assumed "
                "keepDataOnDestroy=true; run it through `make preview`, or add "
                '--policy-pack-config "$(.venv/bin/python scripts/policy_config.py <stack>)"'
            )

    return StackValidationPolicy(
        "stack-facts",
        DESCRIPTIONS["stack-facts"],
        validate,
        EnforcementLevel.ADVISORY,
        FACTS_SCHEMA,
    )


def policies() -> list[pulumi_policy.policy.Policy]:
    return (
        [resource_policy(name, rule) for name, rule in rules.RESOURCE_RULES.items()]
        + [stack_policy(name, rule) for name, rule in rules.STACK_RULES.items()]
        + [facts_policy()]
    )


def pack_config(facts: Mapping[str, Any]) -> dict[str, Any]:
    """The --policy-pack-config document: the same facts for every policy (unset ones left out,
    e.g. the namespace of a docker stack)."""
    chosen = {key: facts[key] for key in FACT_KEYS if facts.get(key) is not None}
    return {policy.name: dict(chosen) for policy in policies()}
