import functools
import os
import sys
from pathlib import Path

import kubernetes_validate.utils
import pytest
from hypothesis import settings as hypothesis_settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
# An f-string over an Output must fail loudly instead of embedding a warning text in a manifest.
os.environ["PULUMI_ERROR_OUTPUT_STRING"] = "1"

from harness import run_stack  # noqa: E402

# The same commit gives the same result, in CI and in `make test`/`make test-slow`: Hypothesis
# draws its examples from a seed derived from each test, never from a random one or from the
# example database of earlier runs. `HYPOTHESIS_PROFILE=explore` searches new random examples.
hypothesis_settings.register_profile("derandomized", derandomize=True, database=None)
hypothesis_settings.register_profile("explore", derandomize=False)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "derandomized"))

# kubernetes-validate reads and parses the multi-megabyte definitions file on every call; the
# files never change during a run, so each is read once (6.6 s -> 0.4 s for one stack).
kubernetes_validate.utils.schema_contents = functools.lru_cache(maxsize=None)(
    kubernetes_validate.utils.schema_contents
)

ICC_NAMESPACE = "wabc123-default"


@pytest.fixture(scope="session")
def icc():
    return run_stack("icc", namespace=ICC_NAMESPACE)


@pytest.fixture(scope="session")
def minikube():
    return run_stack("minikube")


@pytest.fixture
def store(tmp_path) -> dict[str, Path]:
    """Open WebUI's data folder and the backup store, as the backup script sees them
    (tests/test_backup_payload.py, tests/test_backup_upstream.py)."""
    data, backups = tmp_path / "data", tmp_path / "backups"
    data.mkdir()
    backups.mkdir()
    return {"data": data, "backups": backups, "tmp": tmp_path}
