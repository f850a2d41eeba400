"""Entry point the Pulumi engine runs: `pulumi preview --policy-pack policy` (see pack.py)."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# rules.py beside this file; components/ (the quantity parser) in the project root.
sys.path[:0] = [str(HERE), str(HERE.parent)]

import pack  # noqa: E402
from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

pack.install_wire_form()
PolicyPack(
    name=pack.PACK_NAME,
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=pack.policies(),
    description=pack.__doc__.splitlines()[0],
)
