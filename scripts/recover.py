#!/usr/bin/env python3
"""Recover a stack from an interrupted `pulumi up` / `pulumi destroy`, then say what was done.

Usage: scripts/recover.py <stack> [up|destroy|preview] [--dry-run]. `make up` runs it before
`pulumi up`. With nothing interrupted it changes nothing and prints nothing. It uses the stack as
Pulumi does (backend from PULUMI_BACKEND_URL or Pulumi.yaml, the passphrase settings) and never
writes a file of the checkout.

What Pulumi (CLI 3.259.0) and its Automation API leave to the user after a killed run:

1. The lock of the file backend (`<backend>/.pulumi/locks/<org>/<project>/<stack>/<id>.json`:
   pid, username, hostname, timestamp) stays; `pulumi cancel` removes every lock of the stack,
   a running `pulumi up`'s too. Here a lock goes only when it was taken on this machine by a
   process that no longer runs; any other lock stops the run with its holder named.
2. The CLI starts each plugin in a process group of its own, so killing the CLI (or its group,
   or closing its terminal) leaves the providers running, and they finish the creates they had
   begun, after anybody looked. Plugin processes (`pulumi-resource-*`, `-language-*`,
   `-analyzer-*`) working in this project whose parent is no longer a `pulumi` CLI are stopped
   (TERM, then KILL) and waited for before anything is looked up (Linux: /proc).
3. Pending creates: sent, never answered. The next `up` creates them again, and Docker and
   pulumi-kubernetes >= 4.29.0 fail on the existing name (4.25-4.28 take the object over by
   server-side apply). `pulumi refresh --clear-pending-creates` only forgets them.
   `--import-pending-creates <urn> <id>` marks them "importing", which the refresh does not
   carry over (only pending creates), and an import reads an object back without the state a
   create records: the next `up` replaces an imported Docker container. `pulumi import` needs
   each parent and provider spelled out and takes the inputs from the live object. The
   provider option `upsertExistingObjects` (pulumi-kubernetes >= 4.29.0) takes over any object
   of that name, also one this project did not make, and Docker has none. Here each pending
   create is looked up by the name the program gave it, through its provider's connection:
   - not there: forgotten, `up` creates it;
   - a Docker container created but never started (the provider uploads files in between):
     removed, then forgotten;
   - there with this project's labels (part-of=icc-ollama, managed-by=pulumi; chart objects:
     first written by a Pulumi provider) in its provider's namespace: adopted. The entry moves
     into the state (`pulumi stack import`) with the object's id, the inputs the program sent
     and outputs from which the provider's own Read (`pulumi refresh --target`) rebuilds what
     the create would have recorded (recover_plan.adopted_resource): `up` leaves it alone;
   - there without those labels: not ours. Nothing changes; the run stops, naming the object.
   Pending updates and deletes need nothing: `up` redoes them, `stack import` clears them.

The refresh reads the stack config from a byte copy of Pulumi.<stack>.yaml (`--config-file`): a
Pulumi command that finds no secrets settings in the file it reads writes them there.
Stdlib only; needs `pulumi` on PATH, `kubectl` or `docker` only to look up a pending create.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
# Its parts beside it; components/kube_facts.py (stdlib only) from the project root.
sys.path[:0] = [str(Path(__file__).resolve().parent), str(ROOT)]

from recover_lookup import look_up, plain, remove_container  # noqa: E402
from recover_plan import (  # noqa: E402
    Plan,
    Process,
    Step,
    apply_to_state,
    needs_lookup,
    parse_lock,
    pending_creates,
    plan,
    provider_inputs,
)

PLUGINS = ("pulumi-resource", "pulumi-language", "pulumi-analyzer")  # /proc comm: 15 characters
STOP_WAIT = 5.0  # seconds for TERM, then as long for KILL
# After a provider is gone, a request it had sent may still be carried out by the API server or
# the Docker Engine; look only after that.
SETTLE = 2.0


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
        ticks = int(stat_fields(pid)[19])
        boot = next(
            int(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    return datetime.fromtimestamp(boot + ticks / os.sysconf("SC_CLK_TCK"), tz=timezone.utc)


def stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command: state, ppid, pgrp, session, ..."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def command_name(pid: int) -> str:
    return Path(f"/proc/{pid}/comm").read_text().strip()


def leftover_plugins(project: Path) -> list[tuple[int, str]] | None:
    """Plugin processes working in `project` with no `pulumi` CLI among their ancestors (pid,
    name); None where there is no /proc to look in."""
    if not Path("/proc/self/stat").exists():
        return None
    root, found = os.path.realpath(project) + os.sep, []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            name = command_name(pid)
            cwd = os.readlink(entry / "cwd")  # the project, or its `main` folder
            if not name.startswith(PLUGINS) or gone(pid) or not (cwd + os.sep).startswith(root):
                continue
            if not under_cli(pid):
                found.append((pid, name))
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile, or another user's
    return found


def under_cli(pid: int) -> bool:
    """A `pulumi` CLI among the ancestors (a plugin may be started by a language host)."""
    while pid > 1:
        pid = int(stat_fields(pid)[1])
        if pid > 1 and command_name(pid) == "pulumi":
            return True
    return False


def gone(pid: int) -> bool:
    try:
        return stat_fields(pid)[0] == "Z"
    except (OSError, IndexError):
        return True


def stop(pids: list[int]) -> None:
    """TERM (and CONT, for a stopped one), then KILL, to each plugin's own process group."""
    for signals in ((signal.SIGTERM, signal.SIGCONT), (signal.SIGKILL,)):
        for pid, sig in ((pid, sig) for pid in pids for sig in signals):
            try:
                os.killpg(pid, sig) if os.getpgid(pid) == pid else os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + STOP_WAIT
        while not all(map(gone, pids)) and time.monotonic() < deadline:
            time.sleep(0.05)
        if all(map(gone, pids)):
            return
    raise SystemExit(f"recover: processes {pids} of the interrupted run do not end; stop them")


def stop_leftovers(project: Path, act: bool, interrupted: bool) -> list[Step]:
    """Stops (with `act`) what a killed run left running, before anything is looked up."""
    leftovers = leftover_plugins(project)
    if leftovers is None:
        say = "no /proc here: make sure no pulumi-resource-* process of the interrupted run runs"
        return [Step("end", "", say)] if interrupted else []
    if not leftovers:
        return []
    names = ", ".join(f"{name} (pid {pid})" for pid, name in leftovers)
    if not act:
        return [Step("end", names, f"still running from the interrupted run: {names}")]
    stop([pid for pid, _ in leftovers])
    if any(name.startswith("pulumi-resource") for _, name in leftovers):
        time.sleep(SETTLE)
    return [Step("end", names, f"stopped what the interrupted run left running: {names}")]


def lock_files(backend_url: str, project: str, stack: str) -> list[Path]:
    """Lock files of a file:// backend (project mode and the legacy layout); none for others."""
    parsed = urlparse(backend_url)
    if parsed.scheme != "file":
        return []
    root = Path(os.path.expanduser(parsed.netloc + parsed.path)) / ".pulumi" / "locks"
    folders = [root / "organization" / project / stack, root / stack]
    return sorted(p for folder in folders if folder.is_dir() for p in folder.glob("*.json"))


def backend_url(project_file: Path) -> str:
    """PULUMI_BACKEND_URL wins over Pulumi.yaml's backend.url, as in Pulumi itself."""
    if os.environ.get("PULUMI_BACKEND_URL"):
        return os.environ["PULUMI_BACKEND_URL"]
    match = re.search(r"^backend:\s*\n\s+url:\s*(\S+)", project_file.read_text(), re.MULTILINE)
    return match.group(1).strip("'\"") if match else ""


def project_name(project_file: Path) -> str:
    match = re.search(r"^name:\s*(\S+)", project_file.read_text(), re.MULTILINE)
    return match.group(1).strip("'\"") if match else ""


class Pulumi:
    def __init__(self, stack: str, cwd: Path, scratch: Path):
        self.stack, self.cwd = stack, cwd
        own = cwd / f"Pulumi.{stack.rsplit('/', 1)[-1]}.yaml"
        self.config_copy = scratch / own.name
        if own.exists():
            shutil.copyfile(own, self.config_copy)

    def run(self, *args: str, input: str | None = None, config: bool = False) -> str:
        """`config`: the command reads the stack config, from the copy. Without secrets settings
        there, the state's are used (Pulumi's fallback) instead of making new ones."""
        extra = ["--config-file", str(self.config_copy)] if config else []
        proc = subprocess.run(
            ["pulumi", *args, *extra, "--stack", self.stack, "--non-interactive"],
            cwd=self.cwd,
            input=input,
            capture_output=True,
            text=True,
            env={**os.environ, "PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER": "true"},
        )
        if proc.returncode != 0:
            raise SystemExit(
                f"recover: `pulumi {' '.join(args)}` failed:\n{proc.stderr.strip()}"
                f"\n{proc.stdout.strip()[-2000:]}"
            )
        return proc.stdout


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stack")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    parser.add_argument(
        "action",
        nargs="?",
        default="up",
        choices=("up", "destroy", "preview", "review"),
        help="what runs next; before a preview (which takes the lock too) a stale lock goes, "
        "the rest is only reported",
    )
    args = parser.parse_args(argv)
    cwd = Path.cwd() if (Path.cwd() / "Pulumi.yaml").exists() else ROOT
    look_only = args.dry_run or args.action in ("preview", "review")

    project_file = cwd / "Pulumi.yaml"
    locks = []
    for path in lock_files(backend_url(project_file), project_name(project_file), args.stack):
        try:
            lock = parse_lock(str(path), path.read_text())
        except (OSError, ValueError):
            continue  # removed meanwhile, or half written by a run starting right now
        locks.append((lock, process_facts(lock.pid)))
    lock_plan = plan(locks, socket.gethostname(), [], {})
    if lock_plan.blocked:
        return report(lock_plan)
    if not args.dry_run:
        for step in lock_plan.of("remove-lock"):
            Path(step.target).unlink(missing_ok=True)
            # gocloud's fileblob keeps the blob's attributes beside it (`<lock>.json.attrs`).
            Path(step.target + ".attrs").unlink(missing_ok=True)
    ended = stop_leftovers(cwd, not look_only, interrupted=bool(lock_plan.of("remove-lock")))
    if not look_only:
        lock_plan.steps, ended = lock_plan.steps + ended, []

    with tempfile.TemporaryDirectory(prefix="icc-recover-") as scratch:
        pulumi = Pulumi(args.stack, cwd, Path(scratch))
        state = json.loads(pulumi.run("stack", "export"))
        pending = pending_creates(state)
        # The providers' connections (a kubeconfig may be a secret) for the look-ups.
        plain_state = (
            json.loads(pulumi.run("stack", "export", "--show-secrets"))
            if any(map(needs_lookup, pending))
            else state
        )
        pending_plan = plan([], "", pending, look_up(pending, plain_state, Path(scratch)))
        if look_only or pending_plan.blocked:
            later = "--dry-run, would have" if args.dry_run else "`up` will do this"
            left = Plan(ended + pending_plan.steps)
            return report(lock_plan, dry_run=args.dry_run) or report(left, later=later)
        providers = {p.urn: p.provider for p in pending}
        for step in pending_plan.of("remove"):
            host = provider_inputs(plain_state, providers[step.target]).get("host")
            remove_container(plain(host), step.id)
        changes = [s for s in pending_plan.steps if s.kind in ("adopt", "remove", "drop")]
        if changes:
            pulumi.run("stack", "import", input=json.dumps(apply_to_state(state, changes)))
        report(Plan(lock_plan.steps + pending_plan.steps))
        targets = [arg for step in pending_plan.of("adopt") for arg in ("--target", step.target)]
        if targets:
            try:
                pulumi.run("refresh", "--yes", "--skip-preview", *targets, config=True)
            except SystemExit as failed:
                again = f"pulumi refresh --stack {args.stack} {' '.join(targets)}"
                raise SystemExit(
                    f"{failed}\nrecover: the objects are in the state; finish with `{again}`"
                ) from None
    return 0


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
