"""The namespace budget: quantity arithmetic, the worst-case sum, and its one clear message."""

from decimal import Decimal

import pulumi
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_fuzz import as_cli_strings

from harness import (
    TEST_ADMIN_PASSWORD,
    TEST_SECRET_KEY,
    TEST_SECRETS,
    ProgramRun,
    run_program,
    stack_config,
)
from settings import SettingsError, parse_settings
from settings.budget import budget_overrun
from settings.pods import PodBudget, pod_budget, release_pods
from settings.quantity import format_amount, parse_quantity

SECRET = frozenset(TEST_SECRETS)
GI = 1024**3


def icc(**extra):
    raw = {
        "target": "icc",
        "namespace": "wabc123-default",
        "webuiSecretKey": TEST_SECRET_KEY,
        "webuiAdminPassword": TEST_ADMIN_PASSWORD,
    }
    return parse_settings({**raw, **extra}, SECRET)


def icc_error(**extra) -> str:
    with pytest.raises(SettingsError) as caught:
        icc(**extra)
    return str(caught.value)


@pytest.mark.parametrize(
    "text, value",
    [
        ("2", 2),
        ("0.5", Decimal("0.5")),
        ("500m", Decimal("0.5")),
        ("10m", Decimal("0.01")),
        ("1k", 1000),
        ("1M", 10**6),
        ("2G", 2 * 10**9),
        ("1e3", 1000),
        ("5E-1", Decimal("0.5")),
        ("100u", Decimal("0.0001")),
        ("5n", Decimal("0.000000005")),
        ("1Ki", 1024),
        ("512Mi", 512 * 2**20),
        ("2Gi", 2 * GI),
        ("1.5Gi", 3 * GI // 2),
        ("1Ti", 2**40),
        (".5", Decimal("0.5")),
        (3, 3),
        (1.5, Decimal("1.5")),
        ("-1", -1),
    ],
)
def test_quantities_parse_exactly(text, value):
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    "text", ["", "lots", "1 Gi", "1GB", "1gi", "Gi", "1.2.3", "1Mi ", "0x10", True, None]
)
def test_non_quantities_are_refused(text):
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        parse_quantity(text)


@given(st.integers(0, 10**6))
def test_suffixes_scale_like_kubernetes(n):
    assert parse_quantity(f"{n}m") * 1000 == n
    assert parse_quantity(f"{n}Mi") == n * 2**20
    assert parse_quantity(f"{n}Gi") == parse_quantity(f"{n * 1024}Mi")
    assert parse_quantity(f"{n}k") == parse_quantity(f"{n}000")


def test_sums_are_exact_not_float():
    assert sum(parse_quantity("100m") for _ in range(3)) == parse_quantity("300m")


def test_amounts_format_for_messages():
    assert format_amount("cpu", Decimal("4.21")) == "4.21"
    assert format_amount("cpu", Decimal("13")) == "13"
    assert format_amount("memory", parse_quantity("16Gi") + parse_quantity("256Mi")) == "16.25Gi"
    assert format_amount("gpu", Decimal(4)) == "4"


@pytest.mark.parametrize("stack", ["icc", "minikube"])
def test_budget_per_pod_matches_the_rendered_pods(stack, request):
    """The budget must count exactly what the StatefulSets ask for, sidecar and GPU included."""
    run = request.getfixturevalue(stack)
    raw = {**stack_config(stack), **TEST_SECRETS}
    if stack == "icc":
        raw["namespace"] = "wabc123-default"
    settings = parse_settings(raw, SECRET)
    budgets = {b.name: b for b in release_pods(settings)}
    for name, statefulset in (("Ollama", "ollama"), ("Open WebUI", "open-webui")):
        spec = run.one("kubernetes:apps/v1:StatefulSet", statefulset).inputs["spec"]
        rendered = pod_budget(
            name,
            int(spec["replicas"]),
            "",
            [c["resources"] for c in spec["template"]["spec"]["containers"]],
            "nvidia.com/gpu",
            {
                t["metadata"]["name"]: t["spec"]["resources"]["requests"]["storage"]
                for t in spec["volumeClaimTemplates"]
            },
        )
        assert budgets[name].requests == rendered.requests, name
        assert budgets[name].limits == rendered.limits, name
        assert budgets[name].replicas == rendered.replicas, name
    assert budgets["Ollama"].requests.get("gpu") == (1 if stack == "icc" else None)


def test_gpu_overrun_names_max_replicas_need_and_budget():
    message = icc_error(
        ollama='{"autoscaling": {"enabled": true, "maxReplicas": 4}}', quota='{"gpu": 2}'
    )
    assert (
        "icc-ollama:ollama.autoscaling.maxReplicas (given: 4): worst case 4 Ollama pods × "
        "1 GPU = 4 GPUs, more than quota.gpu = 2 GPUs; lower ollama.autoscaling.maxReplicas"
    ) in message, message
    assert "raise quota.gpu" in message


def test_gpu_quota_is_required_for_gpu_autoscaling_on_icc():
    message = icc_error(ollama='{"autoscaling": {"enabled": true, "maxReplicas": 3}}')
    assert "icc-ollama:quota.gpu: required" in message and "= 3 GPUs" in message


def test_fixed_replicas_count_when_autoscaling_is_off():
    message = icc_error(ollama='{"replicas": 3, "gpu": {"count": 2}}', quota='{"gpu": 4}')
    assert "icc-ollama:ollama.replicas (given: 3)" in message
    assert "3 Ollama pods × 2 GPUs = 6 GPUs" in message


def test_budget_boundary_is_inclusive():
    # icc Ollama: limits 4 CPU + 200m loader; Open WebUI: 1 CPU + 200m backup sidecar. Two
    # replicas: 9.6 CPU.
    fits = icc(ollama='{"replicas": 2}', quota='{"limits": {"cpu": "9600m"}}')
    assert fits.quota.limits.cpu == "9600m"
    message = icc_error(ollama='{"replicas": 2}', quota='{"limits": {"cpu": "9.5"}}')
    assert (
        "2 Ollama pods × 4.2 CPU + 1 Open WebUI pod × 1.2 CPU = 9.6 CPU of limits, more than "
        "quota.limits.cpu = 9.5 CPU"
    ) in message, message


def test_requests_memory_and_storage_are_checked():
    message = icc_error(ollama='{"replicas": 2}', quota='{"requests": {"memory": "16Gi"}}')
    assert "icc-ollama:ollama.replicas" in message and "of memory requests" in message
    assert "17.09Gi" in message  # 2 × (8Gi + 32Mi loader) + 1Gi + 32Mi backup sidecar
    message = icc_error(ollama='{"replicas": 2}', quota='{"storage": "40Gi"}')
    # Open WebUI: its data claim and its backup claim, 5Gi each.
    assert "2 Ollama pods × 20Gi + 1 Open WebUI pod × 10Gi = 50Gi of claims" in message


def test_unset_quota_checks_nothing():
    settings = icc(ollama='{"replicas": 16}')
    assert budget_overrun(settings) is None


def test_the_biggest_consumer_is_named():
    settings = icc(
        webui='{"resources": {"requests": {"cpu": "1", "memory": "1Gi"}, '
        '"limits": {"cpu": "30", "memory": "2Gi"}}}'
    )
    pods = release_pods(settings)
    overrun = budget_overrun(
        settings.model_copy(
            update={
                "quota": settings.quota.model_copy(
                    update={"limits": settings.quota.limits.model_copy(update={"cpu": "20"})}
                )
            }
        ),
        pods,
    )
    assert overrun is not None and overrun.key == "webui.resources" and overrun.given is None


def test_other_components_can_add_their_pods():
    # Ollama 1.01 + Open WebUI 0.25 and its backup sidecar 0.01 fit
    settings = icc(quota='{"requests": {"cpu": "2"}}')
    pods = release_pods(settings)
    assert budget_overrun(settings, pods) is None
    prometheus = PodBudget(
        "Prometheus",
        1,
        "monitoring.prometheus.resources",
        requests={"cpu": Decimal(1)},
        limits={"cpu": Decimal(2)},
    )
    overrun = budget_overrun(settings, pods + [prometheus])
    assert overrun is not None
    assert "+ 1 Prometheus pod × 1 CPU = 2.27 CPU of requests" in overrun.fix


def test_quota_belongs_to_kubernetes_targets():
    with pytest.raises(SettingsError, match="icc-ollama:quota: a namespace quota"):
        parse_settings(
            {
                "target": "docker",
                "webuiSecretKey": TEST_SECRET_KEY,
                "webuiAdminPassword": TEST_ADMIN_PASSWORD,
                "quota": '{"gpu": 1}',
            },
            SECRET,
        )


def test_overrun_stops_the_program_before_any_resource(monkeypatch):
    config = {
        **stack_config("icc"),
        "webuiSecretKey": TEST_SECRET_KEY,
        "webuiAdminPassword": TEST_ADMIN_PASSWORD,
        "namespace": "wabc123-default",
        "quota": {"gpu": 0},
    }
    run = ProgramRun()
    with pytest.raises(pulumi.RunError, match="icc-ollama:ollama.replicas"):
        run_program(config, stack="icc", monkeypatch=monkeypatch, run=run)
    assert run.resources == []


_maybe_quantity = st.sampled_from(["1", "500m", "64Gi", 2, 0.5, "lots", "", "-1", None])
_targets = st.sampled_from(["icc", "minikube", "docker"])
_new_blocks = st.fixed_dictionaries(
    {"target": _targets},
    optional={
        "quota": st.fixed_dictionaries(
            {},
            optional={
                "gpu": st.one_of(st.integers(-1, 10), st.just("two")),
                "storage": _maybe_quantity,
                "requests": st.fixed_dictionaries(
                    {}, optional={"cpu": _maybe_quantity, "memory": _maybe_quantity}
                ),
                "limits": st.fixed_dictionaries({}, optional={"cpu": _maybe_quantity}),
                "disk": st.just(1),
            },
        ),
        "ingress": st.fixed_dictionaries(
            {},
            optional={
                "enabled": st.booleans(),
                "exposeOllama": st.booleans(),
                "host": st.sampled_from(
                    ["chat.example.org", "Chat.org", "x", "https://a.b", "1.2.3.4"]
                ),
                "ollamaHost": st.sampled_from(
                    ["ollama.example.org", "chat.example.org", "bad host"]
                ),
                "proxyBodySize": st.sampled_from(["100m", 100, "1 GB"]),
                "tls": st.fixed_dictionaries(
                    {},
                    optional={
                        "enabled": st.booleans(),
                        "clusterIssuer": st.sampled_from(["", "le-prod", "Bad"]),
                        "existingSecret": st.sampled_from(["wildcard", "", None]),
                    },
                ),
            },
        ),
        "ollama": st.fixed_dictionaries(
            {},
            optional={
                "replicas": st.integers(0, 17),
                "gpu": st.fixed_dictionaries({}, optional={"count": st.integers(0, 9)}),
                "autoscaling": st.fixed_dictionaries(
                    {},
                    optional={
                        "enabled": st.booleans(),
                        "minReplicas": st.integers(0, 17),
                        "maxReplicas": st.integers(0, 17),
                        "targetCpuUtilization": st.integers(0, 500),
                    },
                ),
            },
        ),
    },
)


@given(_new_blocks)
def test_ingress_autoscaling_and_quota_inputs_fail_only_with_key_errors(raw):
    raw = {**raw, "webuiSecretKey": TEST_SECRET_KEY, "webuiAdminPassword": TEST_ADMIN_PASSWORD}
    if raw["target"] == "icc":
        raw["namespace"] = "wabc123-default"
    try:
        parse_settings(as_cli_strings(raw), SECRET)
    except SettingsError as error:  # any other exception fails the test
        assert TEST_SECRET_KEY not in str(error)
