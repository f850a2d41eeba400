"""The policy pack: each rule of policy/rules.py as a pulumi_policy policy, fed with plain values.

Enforcement (README "Reviewing a preview" has the reasons): every rule is mandatory, because each
one either makes the cluster refuse the release, leaves a pod Pending, loses data or opens the chat
to the network; `stack-facts` too, because without the stack's facts the target-dependent rules
would pass unchecked.

Only pulumi_policy's public API: the rules read `args.props` through `wire.plain` (an unknown
value becomes `wire.UNKNOWN`), `args.opts.additional_secret_outputs` for what the state keeps
secret, the provider's inputs for its default namespace, and the stack's facts from facts.py.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import facts
import rules
import wire
from facts import Facts
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyProviderResource,
    PolicyResourceOptions,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from wire import Resource

PACK_NAME = "icc-ollama-rules"
# --policy-pack-config may still set a fact for one policy (facts.with_override).
FACTS_SCHEMA = PolicyConfigSchema(
    properties={
        "target": {"type": "string", "enum": list(facts.TARGETS)},
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
    "no-plain-secrets": "No secret-looking value in plain env, annotations or ConfigMaps, and "
    "Secret data and secret Docker env kept secret in the state.",
    "data-retained": "Claims holding models and chats survive `pulumi destroy` unless "
    "keepDataOnDestroy is false.",
    "requests-within-limits": "Every container's requests are at most its limits.",
    "ingress-tls": "Every Ingress has TLS for each of its hosts.",
    "default-deny-network-policy": "Kubernetes stacks have a default-deny NetworkPolicy and "
    "every pod is selected by an ingress policy.",
    "webui-auth-behind-ingress": "Open WebUI published through an Ingress has WEBUI_AUTH on.",
    "quota-fits": "The release's worst case, counted from its pods and claims, fits the "
    "configured namespace quota.",
    "stack-facts": "The pack knows the stack's target, namespace, keepDataOnDestroy and quota "
    "(from the stack's Pulumi.<stack>.yaml).",
}


def facts_for(urn: str, config: Mapping[str, Any] | None) -> Facts:
    found = facts.stack_facts(facts.stack_of(urn), os.getcwd())
    return facts.with_override(found, config)


def provider_namespace(provider: PolicyProviderResource | None) -> str | None:
    if provider is None or provider.resource_type != "pulumi:providers:kubernetes":
        return None
    namespace = wire.get(wire.plain(provider.props), "namespace")
    return namespace if isinstance(namespace, str) else None


def as_resource(
    type_: str,
    name: str,
    props: Mapping[str, Any],
    urn: str,
    opts: PolicyResourceOptions | None,
    provider: PolicyProviderResource | None,
) -> Resource:
    secret = frozenset(opts.additional_secret_outputs) if opts is not None else frozenset()
    return Resource(
        type_, name, wire.plain(props), urn, provider_namespace(provider), secret_outputs=secret
    )


def resource_policy(
    name: str, rule: Callable[[Resource, Facts], list[str]]
) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        resource = as_resource(
            args.resource_type, args.name, args.props, args.urn, args.opts, args.provider
        )
        for message in rule(resource, facts_for(args.urn, args.get_config())):
            report(message, args.urn)

    return ResourceValidationPolicy(
        name, DESCRIPTIONS[name], validate, EnforcementLevel.MANDATORY, FACTS_SCHEMA
    )


def stack_resources(args: StackValidationArgs) -> list[Resource]:
    return [
        as_resource(r.resource_type, r.name, r.props, r.urn, r.opts, r.provider)
        for r in args.resources
    ]


def stack_policy(
    name: str, rule: Callable[[list[Resource], Facts], list[str]]
) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        resources = stack_resources(args)
        urn = resources[0].urn if resources else ""
        for message in rule(resources, facts_for(urn, args.get_config())):
            report(message)

    return StackValidationPolicy(
        name, DESCRIPTIONS[name], validate, EnforcementLevel.MANDATORY, FACTS_SCHEMA
    )


def facts_policy() -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        urn = args.resources[0].urn if args.resources else ""
        found = facts_for(urn, args.get_config())
        if not found.known:
            report(
                f"the pack could not read the stack's facts: {found.problem}; "
                f"no-gpu-on-minikube, icc-namespace-only and quota-fits did not run"
            )

    return StackValidationPolicy(
        "stack-facts",
        DESCRIPTIONS["stack-facts"],
        validate,
        EnforcementLevel.MANDATORY,
        FACTS_SCHEMA,
    )


def policies() -> list[Policy]:
    return (
        [resource_policy(name, rule) for name, rule in rules.RESOURCE_RULES.items()]
        + [stack_policy(name, rule) for name, rule in rules.STACK_RULES.items()]
        + [facts_policy()]
    )
