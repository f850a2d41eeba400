import functools
import os
import sys
from pathlib import Path

import kubernetes_validate.utils
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
# An f-string over an Output must fail loudly instead of embedding a warning text in a manifest.
os.environ["PULUMI_ERROR_OUTPUT_STRING"] = "1"

from harness import run_stack  # noqa: E402

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
