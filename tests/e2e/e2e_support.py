"""The real-engine tier's helpers, from the modules it shares with `make bench` (scripts/).

scripts/kwok_cluster.py starts the local control plane (kwokctl with the binaries that
scripts/e2e-tools.sh builds from the Go module proxy), scripts/engine_stack.py runs the real
Pulumi CLI on a temporary copy of the project, scripts/standin_charts.py writes the stand-in
monitoring charts. Tests import them from here; scripts import no test module. Besides,
`policy_launcher`: the tier's own way to run the policy pack.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from engine_stack import (  # noqa: E402
    K8S_SDK_VERSION,
    PASSPHRASE,
    PROGRAM_FOLDERS,
    TEST_ADMIN_PASSWORD,
    TEST_GRAFANA_PASSWORD,
    TEST_SECRET_KEY,
    Stack,
    create_stack,
    install_plugins,
    project_copy,
    pulumi_env,
    stack_settings,
)
from kwok_cluster import (  # noqa: E402
    CPU_NODE,
    GPU_NODE,
    ICC_NAMESPACE,
    MINIKUBE_NAMESPACE,
    REQUIRED_TOOLS,
    ROOT,
    Cluster,
    CommandFailed,
    bound_volume,
    claim_volumes,
    missing_tools,
    run,
    start_cluster,
    stop_cluster,
    storage_objects,
    tools_bin,
)
from standin_charts import monitoring_settings, write_charts  # noqa: E402

__all__ = [
    "CPU_NODE",
    "GPU_NODE",
    "ICC_NAMESPACE",
    "K8S_SDK_VERSION",
    "MINIKUBE_NAMESPACE",
    "PASSPHRASE",
    "PROGRAM_FOLDERS",
    "REQUIRED_TOOLS",
    "ROOT",
    "TEST_ADMIN_PASSWORD",
    "TEST_GRAFANA_PASSWORD",
    "TEST_SECRET_KEY",
    "Cluster",
    "CommandFailed",
    "Stack",
    "bound_volume",
    "claim_volumes",
    "create_stack",
    "install_plugins",
    "missing_tools",
    "monitoring_settings",
    "project_copy",
    "policy_launcher",
    "pulumi_env",
    "run",
    "stack_settings",
    "start_cluster",
    "stop_cluster",
    "storage_objects",
    "tools_bin",
    "write_charts",
]


def policy_launcher(folder: Path, checkout: Path) -> Path:
    """The checkout's policy pack as an executable analyzer, for `--policy-pack`: this tier's
    stand-in language host cannot start a pack folder for the 3.259.0 engine (see
    tests/e2e/test_policy_engine.py), which runs an executable as an analyzer plugin. It starts
    `python -u -m pulumi.policy <engine> policy/`, the command the back-compat plugin runs."""
    path = folder / "icc-ollama-policy-analyzer"
    path.write_text(
        f"#!/bin/sh\nexec '{checkout / '.venv' / 'bin' / 'python'}' -u -m pulumi.policy "
        f"\"$1\" '{checkout / 'policy'}'\n"
    )
    path.chmod(0o755)
    return path
