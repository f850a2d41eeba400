#!/usr/bin/env python3
"""Recover a stack from an interrupted `pulumi up` / `pulumi destroy`, then say what was done.

`make up`, `make preview` and `make destroy` run this first (scripts/up.sh). It is safe to run at
any time: with nothing interrupted it changes nothing and prints nothing.

An interrupted run (SIGKILL, a closed laptop, Ctrl-C twice) leaves two things behind:

1. The lock file of the file:// backend, `<backend>/.pulumi/locks/<org>/<project>/<stack>/<id>.json`
   holding `{"pid", "username", "hostname", "timestamp"}` (pulumi pkg/backend/diy/lock.go,
   lockContent). Pulumi never clears it by itself, and `pulumi cancel` deletes every lock of the
   stack, also one held by a running `pulumi up`. Here a lock is removed only when it was taken on
   this machine by a process that no longer runs; any other lock stops with its holder named.
2. Pending creates in the state: objects whose create call was sent but whose answer never got
   recorded. The next `up` would create them again and fail with "already exists";
   `pulumi refresh --clear-pending-creates` only forgets them (the same failure follows). Each
   pending create is looked up by the name the program gave it:
   - not there: the pending create is dropped (the next `up` creates it);
   - there, and carrying this project's labels (app.kubernetes.io/part-of=icc-ollama and
     managed-by=pulumi; objects rendered from a Helm chart instead: first written by a Pulumi
     provider; on Kubernetes in the namespace the stack deploys to): it is adopted. The
     pending entry moves into the state's resources with the object's id (Kubernetes
     `namespace/name`, Docker container/network id) and the inputs the program sent when it
     created it, then `pulumi refresh --target` reads its live outputs. Because the recorded
     inputs are exactly the program's, the next `up` sees no change (no patch, no replace);
   - there without those labels: somebody else's object. Nothing is changed; the run stops and
     names the object and the two ways out.
   Pending updates and deletes need no help: `pulumi up` redoes them (since Pulumi 3.29), and
   `pulumi stack import` (used here) clears them with a warning.

Why not `pulumi refresh --import-pending-creates <urn> <id>`: in the CLI 3.259.0 it marks the
operation "importing", and the refresh then keeps only pending *creates* from its base snapshot
(pulumi pkg/backend/journal.go, GenerateDeployment), so the object is dropped, not adopted. Why
not `pulumi import`: it needs each object's parent and provider spelled out, marks it protected
unless told otherwise, and reads the inputs back from the live object (defaults filled in), so the
next `up` may update what it adopted, or replace an object whose immutable fields then differ
(a StatefulSet's volumeClaimTemplates). Why not the provider option `upsertExistingObjects`
(pulumi-kubernetes >= 4.20): it adopts any object of that name, also one we did not create, with
no message, and it does not exist for Docker.

Usage: scripts/recover.py <stack> [up|destroy|preview] [--dry-run] [--config-file F]
Stdlib only; needs `pulumi` on PATH, and `kubectl` or `docker` only when a pending create has to
be looked up.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlparse

# Its parts beside it; components/kube_facts.py (stdlib only) from the project root.
sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from recover_lookup import look_up, provider_input  # noqa: E402
from recover_plan import Plan, Process, Step, parse_lock, pending_creates, plan  # noqa: E402


def apply_to_state(state: dict, steps: list[Step]) -> dict:
    """The exported state with adopted creates moved into `resources` and dropped ones gone.

    Appending keeps the resource list in dependency order: a resource whose create was still
    pending cannot be the parent or dependency of any recorded resource (dependents wait).
    """
    decided = {step.target: step for step in steps if step.kind in ("adopt", "drop")}
    new_state = json.loads(json.dumps(state))
    deployment = new_state["deployment"]
    kept, adopted = [], []
    for op in deployment.get("pending_operations") or []:
        step = decided.get((op.get("resource") or {}).get("urn", ""))
        if op.get("type") != "creating" or step is None:
            kept.append(op)
        elif step.kind == "adopt":
            adopted.append({**op["resource"], "id": step.id})
    deployment["resources"] = list(deployment.get("resources") or []) + adopted
    deployment["pending_operations"] = kept
    return new_state


# --------------------------------------------------------------------------- this machine


def process_facts(pid: int) -> Process:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return Process(running=False)
    except PermissionError:
        pass  # another user's process: it exists
    return Process(running=True, started=process_start(pid))


def process_start(pid: int) -> datetime | None:
    """Linux: /proc/<pid>/stat field 22 (clock ticks after boot) plus the boot time."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])
        boot = next(
            int(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    return datetime.fromtimestamp(boot + ticks / os.sysconf("SC_CLK_TCK"), tz=timezone.utc)


def lock_files(backend_url: str, project: str, stack: str) -> list[Path]:
    """Lock files of a file:// backend (project mode and the legacy layout); none for others."""
    parsed = urlparse(backend_url)
    if parsed.scheme != "file":
        return []
    root = Path(os.path.expanduser(parsed.netloc + parsed.path)) / ".pulumi" / "locks"
    folders = [root / "organization" / project / stack, root / stack]
    return sorted(p for folder in folders if folder.is_dir() for p in folder.glob("*.json"))


def backend_url(project_file: Path) -> str:
    """PULUMI_BACKEND_URL wins over Pulumi.yaml's backend.url (pulumi pkg/workspace/creds.go)."""
    if os.environ.get("PULUMI_BACKEND_URL"):
        return os.environ["PULUMI_BACKEND_URL"]
    match = re.search(r"^backend:\s*\n\s+url:\s*(\S+)", project_file.read_text(), re.MULTILINE)
    return match.group(1).strip("'\"") if match else ""


def project_name(project_file: Path) -> str:
    match = re.search(r"^name:\s*(\S+)", project_file.read_text(), re.MULTILINE)
    return match.group(1).strip("'\"") if match else ""


class Pulumi:
    def __init__(self, stack: str, cwd: Path, config_file: str | None = None):
        self.stack, self.cwd = stack, cwd
        self.config_args = ["--config-file", config_file] if config_file else []

    def run(self, *args: str, input: str | None = None, check: bool = True) -> str:
        proc = subprocess.run(
            ["pulumi", *args, "--stack", self.stack, "--non-interactive"],
            cwd=self.cwd,
            input=input,
            capture_output=True,
            text=True,
        )
        if check and proc.returncode != 0:
            raise SystemExit(
                f"recover: `pulumi {' '.join(args)}` failed:\n{proc.stderr.strip()}"
                f"\n{proc.stdout.strip()[-2000:]}"
            )
        return proc.stdout

    def config(self, key: str) -> str | None:
        proc = subprocess.run(
            ["pulumi", "config", "get", key, "--stack", self.stack, *self.config_args],
            cwd=self.cwd,
            capture_output=True,
            text=True,
        )
        return proc.stdout.rstrip("\n") if proc.returncode == 0 else None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stack")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    parser.add_argument(
        "action",
        nargs="?",
        default="up",
        choices=("up", "destroy", "preview", "review"),
        help="what runs next; a preview (which also takes the lock) gets a stale "
        "lock cleared, but the state is left alone: it only says what `up` "
        "will adopt",
    )
    parser.add_argument("--config-file", help="the stack config, when not Pulumi.<stack>.yaml")
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parents[1]
    cwd = Path.cwd() if (Path.cwd() / "Pulumi.yaml").exists() else root
    pulumi = Pulumi(args.stack, cwd, args.config_file)

    project_file = cwd / "Pulumi.yaml"
    locks = []
    for path in lock_files(backend_url(project_file), project_name(project_file), args.stack):
        try:
            lock = parse_lock(str(path), path.read_text())
        except (OSError, ValueError):
            continue  # removed meanwhile, or half written by a run starting right now
        locks.append((lock, process_facts(lock.pid)))
    lock_plan = plan(locks, socket.gethostname(), [], {}, None)
    if lock_plan.blocked:
        return report(lock_plan)
    if not args.dry_run:
        for step in lock_plan.of("remove-lock"):
            Path(step.target).unlink(missing_ok=True)
            # gocloud's fileblob keeps the blob's attributes beside it (`<lock>.json.attrs`).
            Path(step.target + ".attrs").unlink(missing_ok=True)

    state = json.loads(pulumi.run("stack", "export"))
    pending = pending_creates(state)
    with tempfile.TemporaryDirectory(prefix="icc-recover-") as scratch:
        live = look_up(pending, state, pulumi, Path(scratch))
    namespace = provider_input(state, "pulumi:providers:kubernetes", "namespace")
    pending_plan = plan([], "", pending, live, namespace)
    if args.dry_run or args.action in ("preview", "review") or pending_plan.blocked:
        later = "--dry-run, would have" if args.dry_run else "`up` will do this"
        return report(lock_plan, dry_run=args.dry_run) or report(pending_plan, later=later)
    full = Plan(lock_plan.steps + pending_plan.steps)
    changes = full.of("adopt") + full.of("drop")
    if changes:
        pulumi.run("stack", "import", input=json.dumps(apply_to_state(state, changes)))
        targets = [arg for step in full.of("adopt") for arg in ("--target", step.target)]
        if targets:
            # Outputs of the adopted objects (uid, status, defaults) come from the cluster.
            pulumi.run("refresh", "--yes", "--skip-preview", *targets)
    return report(full)


def report(result: Plan, dry_run: bool = False, later: str = "") -> int:
    """Prints what was done (or, with `later`, what is still to do); 1 when something stops."""
    prefix = (
        f"recover ({later})" if later else "recover --dry-run, would have" if dry_run else "recover"
    )
    for step in result.steps:
        if step.kind != "stop":
            print(f"{prefix}: {step.say}")
    for step in result.of("stop"):
        print(f"recover: STOP: {step.say}", file=sys.stderr)
    return 1 if result.blocked else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
