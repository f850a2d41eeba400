"""Config fuzzing over the settings space (hypothesis).

Every invalid input must give a SettingsError (never another exception, never the secret in the
message); every valid Kubernetes input must render objects that pass strict schema validation.
The examples are derandomized (tests/conftest.py): a commit passes or fails the same way on every
run; `HYPOTHESIS_PROFILE=explore` searches new ones.
"""

import json

import kubernetes_validate
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from harness import TEST_ADMIN_PASSWORD, TEST_SECRET_KEY, TEST_SECRETS, run_program
from settings import SettingsError, parse_settings
from settings.quantity import parse_quantity

# Bytes without a unit ("16", 50) and milli-bytes ("512m") included: they must never pass as memory.
QUANTITIES = [
    "1",
    "500m",
    "2Gi",
    "512Mi",
    "0.5",
    3,
    1.5,
    "lots",
    "",
    "-1",
    "1 Gi",
    None,
    "512m",
    "16",
    50,
    "1.5Gi",
    "100Mi",
    "0",
]
IMAGES = [
    "ollama/ollama:0.32.15",
    "ollama/ollama:latest",
    "ollama/ollama",
    "x@sha256:" + "a" * 64,
    "ghcr.io/open-webui/open-webui:v0.12.4",
    ":",
    42,
]
NAMESPACES = ["wabc123-default", "icc-ollama", "default", "Bad_NS", "", "w1-default", 7]


def maybe(strategy):
    return st.one_of(st.none(), strategy)


amounts = st.fixed_dictionaries(
    {}, optional={"cpu": st.sampled_from(QUANTITIES), "memory": st.sampled_from(QUANTITIES)}
)
resources = st.fixed_dictionaries({}, optional={"requests": amounts, "limits": amounts})
storage = st.fixed_dictionaries(
    {},
    optional={
        "size": st.sampled_from(QUANTITIES),
        "storageClass": st.sampled_from(["standard", "rook-ceph-block", "Fast_SSD", None]),
    },
)
gpu = st.fixed_dictionaries(
    {},
    optional={
        "enabled": st.one_of(st.booleans(), st.sampled_from(["yes", "true", 1])),
        "count": st.one_of(st.integers(-1, 10), st.just("two")),
        "runtimeClassName": st.sampled_from(["nvidia", "NVIDIA", None]),
    },
)
toleration = st.fixed_dictionaries(
    {"key": st.sampled_from(["gpu-tesla-v100", "x"])},
    optional={
        "operator": st.sampled_from(["Exists", "Equal", "In"]),
        "value": st.sampled_from(["a", None]),
        "effect": st.sampled_from(["NoSchedule", "NoExecute", "Never"]),
    },
)
ollama = st.fixed_dictionaries(
    {},
    optional={
        "image": st.sampled_from(IMAGES),
        "replicas": st.one_of(st.integers(-1, 20), st.just("2"), st.just("many")),
        "gpu": gpu,
        "tolerations": st.lists(toleration, max_size=2),
        "resources": resources,
        "storage": storage,
        "models": st.lists(st.sampled_from(["llama3.2:1b", "phi3", "bad model", ""]), max_size=3),
        "numParallel": st.integers(-1, 100),
        "unexpected": st.integers(),
    },
)
webui = st.fixed_dictionaries(
    {},
    optional={
        "image": st.sampled_from(IMAGES),
        "resources": resources,
        "storage": storage,
        "signup": st.sampled_from(["approval", "open", "pending"]),
        "adminEmail": st.sampled_from(["admin@localhost", "admin", "Admin@x.de"]),
        "openai": st.fixed_dictionaries(
            {},
            optional={
                "enabled": st.booleans(),
                "baseUrl": st.sampled_from(["https://x.org/v1", "ftp://x"]),
            },
        ),
    },
)
chart_source = st.fixed_dictionaries(
    {},
    optional={
        "repo": st.sampled_from(["https://charts.example.org", "", "charts.example.org", None]),
        "chart": st.sampled_from(["prometheus", "./charts/x", "oci://ghcr.io/x/y", ""]),
        "version": st.sampled_from(["29.27.0", "29.*", 29, "v1.2.3-rc.1"]),
        "localPort": st.integers(0, 70000),
    },
)
monitoring = st.fixed_dictionaries(
    {},
    optional={
        "enabled": st.one_of(st.booleans(), st.just("yes")),
        "scope": st.sampled_from(["namespace", "cluster", "global"]),
        "prometheus": st.one_of(
            chart_source,
            st.fixed_dictionaries(
                {},
                optional={
                    "retention": st.sampled_from(["15d", "1w2d", "15 days", ""]),
                    "storageSize": st.sampled_from(QUANTITIES),
                    "resources": resources,
                },
            ),
        ),
        "grafana": chart_source,
        "exporter": st.fixed_dictionaries(
            {}, optional={"enabled": st.booleans(), "image": st.sampled_from(IMAGES)}
        ),
        "dcgmTargets": st.lists(
            st.sampled_from(["dcgm.gpu.svc:9400", "dcgm", "Bad:1"]), max_size=2
        ),
        "alertmanager": st.just(True),
    },
)
raw_settings = st.fixed_dictionaries(
    {"target": st.sampled_from(["icc", "minikube", "mars", ""])},
    optional={
        "namespace": st.sampled_from(NAMESPACES),
        "createNamespace": st.sampled_from([True, False, "false", "nope"]),
        "keepDataOnDestroy": st.sampled_from([True, False, "maybe"]),
        "ollama": ollama,
        "webui": webui,
        "webuiSecretKey": st.sampled_from([TEST_SECRET_KEY, "short"]),
        "webuiAdminPassword": st.sampled_from([TEST_ADMIN_PASSWORD, "short"]),
        "monitoring": monitoring,
        "grafanaAdminPassword": st.sampled_from(["grafana-test-password", "admin"]),
        "colour": st.just("blue"),
    },
)


# Only values the model accepts: every example here must deploy and render schema-valid objects.
# Requests at most every target's default limit, limits at least every default request, so any
# mix with the defaults keeps requests within limits.
valid_requests = st.fixed_dictionaries(
    {},
    optional={
        "cpu": st.sampled_from(["1", "500m", 0.5]),
        "memory": st.sampled_from(["2Gi", "512Mi"]),
    },
)
valid_limits = st.fixed_dictionaries(
    {}, optional={"cpu": st.sampled_from(["2", "4", 2]), "memory": st.sampled_from(["8Gi", "16Gi"])}
)
# Minikube's node (nodeCapacity 4 CPU / 12Gi, settings/targets.py) must hold every pod's
# requests: Open WebUI 250m, monitoring at most 180m (Prometheus 100m + its reloader 10m, Grafana
# 50m, the exporter 10m, kube-state-metrics 10m), each Ollama replica its request + 10m (loader).
# With requests up to 1 CPU that leaves room for three replicas: the strategy draws at most
# MINIKUBE_REPLICAS there (test_the_minikube_bound_is_the_node_capacity pins the edge).
MINIKUBE_REPLICAS = 3


def ollama_settings(max_replicas: int):
    return st.fixed_dictionaries(
        {},
        optional={
            "replicas": st.integers(1, max_replicas),
            "models": st.lists(
                st.sampled_from(["llama3.2:1b", "phi3", "qwen2.5:0.5b"]), max_size=3
            ),
            "resources": st.fixed_dictionaries(
                {}, optional={"requests": valid_requests, "limits": valid_limits}
            ),
            "storage": st.fixed_dictionaries(
                {},
                optional={
                    "size": st.sampled_from(["5Gi", "100Gi"]),
                    "storageClass": st.sampled_from(["fast"]),
                },
            ),
            "tolerations": st.lists(
                st.fixed_dictionaries(
                    {"key": st.just("dedicated")},
                    optional={"effect": st.sampled_from(["NoSchedule", "NoExecute"])},
                ),
                max_size=2,
            ),
            "nodeSelector": st.dictionaries(
                st.sampled_from(["zone", "disk"]), st.just("a"), max_size=2
            ),
            "keepAlive": st.sampled_from(["5m", "-1", "24h"]),
            "numParallel": st.integers(1, 8),
        },
    )


valid_webui = st.fixed_dictionaries(
    {},
    optional={
        "auth": st.booleans(),
        "signup": st.sampled_from(["approval", "open", "closed"]),
        "modelAccess": st.sampled_from(["all", "granted"]),
        "adminEmail": st.sampled_from(["admin@localhost", "chat@haw-hamburg.de"]),
        "storage": st.fixed_dictionaries({"size": st.sampled_from(["1Gi", "8Gi"])}),
    },
)
valid_monitoring = st.fixed_dictionaries(
    {},
    optional={
        "enabled": st.booleans(),
        "prometheus": st.fixed_dictionaries(
            {},
            optional={
                "retention": st.sampled_from(["7d", "36h"]),
                "storageSize": st.sampled_from(["5Gi"]),
                "chart": st.sampled_from(["./charts/prometheus"]),
            },
        ),
        "exporter": st.fixed_dictionaries({}, optional={"enabled": st.booleans()}),
        "dcgmTargets": st.lists(st.just("dcgm.gpu-operator.svc.cluster.local:9400"), max_size=1),
    },
)
valid_settings = st.one_of(
    st.fixed_dictionaries(
        {"target": st.just("icc"), "namespace": st.just("wabc123-default")},
        optional={
            "ollama": ollama_settings(4).map(lambda o: {**o, "gpu": {"count": 1}}),
            "webui": valid_webui,
            "keepDataOnDestroy": st.booleans(),
            "monitoring": valid_monitoring,
        },
    ),
    st.fixed_dictionaries(
        # A node with a larger disk than `minikube start --disk-size 40g`: up to four 100Gi
        # model claims are drawn (settings/budget.py refuses them on the default disk).
        {"target": st.just("minikube"), "nodeCapacity": st.just({"storage": "1Ti"})},
        optional={
            "namespace": st.sampled_from(["icc-ollama", "lab-1"]),
            "ollama": ollama_settings(MINIKUBE_REPLICAS),
            "webui": valid_webui,
            "keepDataOnDestroy": st.booleans(),
            "monitoring": st.tuples(
                valid_monitoring, st.sampled_from(["namespace", "cluster"])
            ).map(lambda pair: {**pair[0], "scope": pair[1]}),
        },
    ),
).map(lambda raw: {**raw, **TEST_SECRETS})


def as_cli_strings(raw: dict) -> dict:
    return {
        key: value if isinstance(value, str) else json.dumps(value) for key, value in raw.items()
    }


@hypothesis_settings(max_examples=300, deadline=None)
@given(raw_settings)
def test_any_input_is_either_valid_or_a_clear_settings_error(raw):
    try:
        settings = parse_settings(as_cli_strings(raw), frozenset(TEST_SECRETS))
    except SettingsError as error:
        assert TEST_SECRET_KEY not in str(error) and TEST_ADMIN_PASSWORD not in str(error)
        return
    # Whatever passes can be scheduled: memory and storage in bytes with a unit, above a floor.
    for path, amount in byte_amounts(settings):
        assert amount[-1] in "kMGTi", (path, amount)
        assert parse_quantity(amount) >= (2**30 if path.endswith("size") else 64 * 2**20), path


def byte_amounts(settings):
    """Every memory and storage amount of a Settings, with its path."""
    sections = {"ollama": settings.ollama, "webui": settings.webui}
    for name, section in sections.items():
        for side in ("requests", "limits"):
            yield f"{name}.{side}.memory", getattr(section.resources, side).memory
        yield f"{name}.storage.size", section.storage.size
    if settings.monitoring.prometheus.storage_size:
        yield "prometheus.storage.size", settings.monitoring.prometheus.storage_size


def test_the_minikube_bound_is_the_node_capacity():
    """MINIKUBE_REPLICAS replicas at the largest requests the strategy draws fit minikube's node
    with every other pod on; one more is refused: the strategy stops where the program does."""

    def minikube(replicas: int):
        ollama = {
            "replicas": replicas,
            "models": ["phi3"],
            "resources": {"requests": {"cpu": "1", "memory": "2Gi"}},
        }
        monitoring = {"enabled": True, "scope": "cluster", "exporter": {"enabled": True}}
        raw = {"target": "minikube", "ollama": ollama, "monitoring": monitoring, **TEST_SECRETS}
        return parse_settings(as_cli_strings(raw), frozenset(TEST_SECRETS))

    assert minikube(MINIKUBE_REPLICAS).ollama.replicas == MINIKUBE_REPLICAS
    with pytest.raises(SettingsError, match="nodeCapacity.cpu"):
        minikube(MINIKUBE_REPLICAS + 1)


@pytest.mark.slow
@hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=valid_settings)
def test_every_valid_input_renders_schema_valid_objects(raw, monkeypatch):
    config = as_cli_strings(raw)
    parse_settings(config, frozenset(TEST_SECRETS))  # must not raise: all values are valid
    run = run_program(config, stack=raw["target"], monkeypatch=monkeypatch)
    for obj in run.kubernetes_objects():
        kubernetes_validate.validate(obj, "1.29", strict=True)
        kubernetes_validate.validate(obj, "1.33", strict=True)
