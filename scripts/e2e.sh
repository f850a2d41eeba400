#!/usr/bin/env bash
# The real-engine tier: build the tools once (cached under ~/.cache/icc-ollama-e2e, a warm run
# takes seconds), then run the tests that drive the real Pulumi CLI against a local kwok cluster.
#   scripts/e2e.sh [pytest args...]        (make e2e)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/e2e-tools.sh >/dev/null
scripts/docker-engine.sh >/dev/null  # the docker target's engines (tests/e2e/test_docker_engine.py)
exec .venv/bin/python -m pytest -m e2e tests/e2e -p no:cacheprovider -rs -rx "$@"
