"""Fixtures of the real-engine tier (`pytest -m e2e tests/e2e`, or `make e2e`).

One kwokctl cluster per session (etcd, kube-apiserver, kube-controller-manager, kube-scheduler
and kwok as host processes, all built by scripts/e2e-tools.sh) with one plain node and one fake
GPU node; one isolated PULUMI_HOME with the locally built Kubernetes provider installed from a
file; the stand-in monitoring charts (scripts/standin_charts.py) in the session's folder. The
tier is skipped, with the reason, when the tools have not been built.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from e2e_support import (
    install_plugins,
    missing_tools,
    monitoring_settings,
    pulumi_env,
    start_cluster,
    stop_cluster,
    tools_bin,
    write_charts,
)


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def e2e_bin() -> Path:
    bin_dir = tools_bin()
    missing = missing_tools(bin_dir)
    if missing:
        pytest.skip(
            f"real-engine tools not built in {bin_dir} (missing: {', '.join(missing)}); "
            f"run scripts/e2e-tools.sh"
        )
    return bin_dir


@pytest.fixture(scope="session")
def e2e_tmp() -> Path:
    # Short paths: kwokctl puts unix sockets and PKI under its workdir.
    path = Path(tempfile.mkdtemp(prefix="icc-e2e-"))
    yield path
    if not os.environ.get("E2E_KEEP"):
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def cluster(e2e_bin: Path, e2e_tmp: Path):
    workdir = e2e_tmp / "kwok"
    workdir.mkdir()
    started = start_cluster(e2e_bin, workdir)
    yield started
    stop_cluster(started)


@pytest.fixture(scope="session")
def engine_env(e2e_bin: Path, e2e_tmp: Path) -> dict[str, str]:
    home, state = e2e_tmp / "pulumi-home", e2e_tmp / "state"
    home.mkdir()
    state.mkdir()
    env = pulumi_env(e2e_bin, home, state)
    install_plugins(e2e_bin, env)
    env["E2E_STATE_DIR"] = str(state)
    return env


@pytest.fixture(scope="session")
def monitoring(e2e_tmp: Path) -> dict:
    """`monitoring` settings that deploy Prometheus and Grafana from the stand-in charts."""
    return monitoring_settings(write_charts(e2e_tmp / "charts"))
