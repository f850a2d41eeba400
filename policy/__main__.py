"""Entry point the Pulumi engine runs: `pulumi preview --policy-pack policy` (see pack.py)."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The pack's modules beside this file; components/kube_facts.py (stdlib only) in the project root.
sys.path[:0] = [str(HERE), str(HERE.parent)]

import pack  # noqa: E402
from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

PolicyPack(
    name=pack.PACK_NAME,
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=pack.policies(),
    description=pack.__doc__.splitlines()[0],
)
