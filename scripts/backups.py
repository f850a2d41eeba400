#!/usr/bin/env python3
"""Snapshots of Open WebUI's database for one stack: list them, take one, restore one.

    .venv/bin/python scripts/backups.py <stack> list
    .venv/bin/python scripts/backups.py <stack> snapshot
    .venv/bin/python scripts/backups.py <stack> restore <name>

`restore` stops Open WebUI, replaces webui.db by the snapshot (after a `pre-restore` snapshot of
the current one), starts Open WebUI again and waits until it is ready; a newer Open WebUI migrates
an older snapshot at that start, after its own pre-upgrade snapshot. Every step is printed with
the command a person would type, so a restore cut short can be finished by hand.

What Pulumi cannot do here: it declares what should exist, and the data is on purpose not among
it (the claims are made by the StatefulSet controller, the Docker volumes are kept on destroy).
A restore is a one-off procedure on that data: stop a workload, run a command in a container
against its volume, start the workload again and wait. No resource option, `pulumi up` flag or
Automation API call runs a command inside a container once and waits for it; a command resource
would run again whenever its inputs change. This script does that procedure with kubectl (the
stack's kubeconfig and context) or the Docker Engine API (docker.host), reading the stack's own
settings with `pulumi config` (the same values `pulumi up` uses). Inside the containers it runs
payloads/webui-backup.py as deployed (components/webui_backup.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components import docker_names as names  # noqa: E402
from components import webui_backup as backup  # noqa: E402
from components.kube_facts import PART_OF  # noqa: E402
from settings import Settings, SettingsError, parse_cli_config  # noqa: E402

WEBUI = names.WEBUI  # the StatefulSet / container name on every target
POD = f"{WEBUI}-0"
HELPER = f"{WEBUI}-restore"
WAIT_SECONDS = 900  # as long as `pulumi up` waits for Open WebUI's rollout


class Stop(Exception):
    """One line for the user; the script exits 1."""


def say(message: str) -> None:
    print(f"backups: {message}", flush=True)


def stack_settings(stack: str) -> Settings:
    """The stack's settings from `pulumi config`, as `pulumi up` reads them."""
    shown = subprocess.run(
        ["pulumi", "config", "--json", "--stack", stack],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if shown.returncode != 0:
        raise Stop(f"`pulumi config --stack {stack}` failed: {shown.stderr.strip()}")
    try:
        return parse_cli_config(shown.stdout)
    except SettingsError as error:
        raise Stop(str(error)) from None


# --- Kubernetes: kubectl with the stack's kubeconfig, context and namespace ----------------------


class Kubectl:
    def __init__(self, settings: Settings, scratch: Path):
        self.base = ["kubectl"]
        kubeconfig = settings.kubeconfig
        if kubeconfig and "\n" in kubeconfig:  # the contents, not a path
            path = scratch / "kubeconfig"
            path.touch(mode=0o600)
            path.write_text(kubeconfig)
            kubeconfig = str(path)
        if kubeconfig:
            self.base += ["--kubeconfig", os.path.expanduser(kubeconfig)]
        if settings.kube_context:
            self.base += ["--context", settings.kube_context]
        self.base += ["--namespace", settings.namespace]

    def shown(self, *args: str) -> str:
        """The command as a person would type it."""
        return " ".join(["kubectl", *self.base[1:], *args])

    def __call__(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        done = subprocess.run([*self.base, *args], input=stdin, capture_output=True, text=True)
        if check and done.returncode != 0:
            raise Stop(f"`{self.shown(*args)}` failed: {done.stderr.strip()}")
        return done.stdout

    def get(self, kind: str, name: str) -> dict | None:
        found = self("get", kind, name, "-o", "json", "--ignore-not-found")
        return json.loads(found) if found.strip() else None


def backup_running(pod: dict | None) -> bool:
    statuses = (pod or {}).get("status", {}).get("containerStatuses") or []
    return any(s["name"] == backup.SIDECAR and "running" in s.get("state", {}) for s in statuses)


def statefulset(kubectl: Kubectl) -> dict:
    found = kubectl.get("statefulset", WEBUI)
    if found is None:
        raise Stop(
            f"no StatefulSet {WEBUI} ({kubectl.shown('get', 'statefulset')}); run `pulumi up`"
        )
    names = [c["name"] for c in found["spec"]["template"]["spec"]["containers"]]
    if backup.SIDECAR not in names:
        raise Stop(
            f"the deployed {WEBUI} has no backups (webui.backup.enabled is false, or the last "
            f"`pulumi up` predates them); turn them on with `pulumi config set --path "
            f"webui.backup.enabled true` and `pulumi up`"
        )
    return found


def helper_pod(sts: dict, args: list[str], node: str | None) -> dict:
    """A one-off pod from the deployed pod template: the backup container with both claims,
    the same image, security context and resources, labelled so that neither the Service nor
    the StatefulSet takes it for Open WebUI."""
    template = sts["spec"]["template"]["spec"]
    container = next(c for c in template["containers"] if c["name"] == backup.SIDECAR)
    mounted = {mount["name"] for mount in container["volumeMounts"]}
    claims = [claim["metadata"]["name"] for claim in sts["spec"]["volumeClaimTemplates"]]
    volumes = [v for v in template.get("volumes", []) if v["name"] in mounted]
    volumes += [
        {"name": claim, "persistentVolumeClaim": {"claimName": f"{claim}-{POD}"}}
        for claim in claims
        if claim in mounted
    ]
    spec = {
        key: template[key] for key in ("securityContext", "serviceAccountName") if key in template
    }
    spec.update(
        automountServiceAccountToken=False,
        enableServiceLinks=False,
        restartPolicy="Never",
        volumes=volumes,
        containers=[{**container, "name": "restore", "command": backup.command(*args)}],
    )
    if node:  # the claims are ReadWriteOnce: go where Open WebUI's pod still holds them
        spec["nodeName"] = node
    labels = {
        "app.kubernetes.io/name": HELPER,
        "app.kubernetes.io/component": "backup",
        "app.kubernetes.io/part-of": PART_OF,  # so the default-deny NetworkPolicy selects it
    }
    metadata = {"name": HELPER, "labels": labels}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def run_helper(kubectl: Kubectl, pod: dict, timeout: float = WAIT_SECONDS) -> str:
    """Create the one-off pod, wait until it ends, return its log; it is deleted either way."""
    kubectl("delete", "pod", HELPER, "--ignore-not-found", "--wait=true")
    kubectl("create", "-f", "-", stdin=json.dumps(pod))
    deadline, phase = time.monotonic() + timeout, ""
    try:
        while phase not in ("Succeeded", "Failed"):
            if time.monotonic() > deadline:
                describe = kubectl.shown("describe", "pod", HELPER)
                raise Stop(f"pod {HELPER} is still {phase or 'Pending'}; see `{describe}`")
            time.sleep(1)
            phase = ((kubectl.get("pod", HELPER) or {}).get("status") or {}).get("phase", "")
        log = kubectl("logs", HELPER, check=False)
        if phase == "Failed":
            raise Stop(f"pod {HELPER} failed:\n{log.strip()}")
        return log
    finally:
        kubectl("delete", "pod", HELPER, "--ignore-not-found", "--wait=false", check=False)


def in_backup_container(kubectl: Kubectl, sts: dict, mode: str) -> str:
    """`mode` (list or snapshot) where the schedule runs; a listing also while it does not."""
    pod = kubectl.get("pod", POD)
    if backup_running(pod):
        return kubectl("exec", POD, "-c", backup.SIDECAR, "--", *backup.command(mode))
    if mode != "list":
        describe = kubectl.shown("describe", "pod", POD)
        raise Stop(f"the {backup.SIDECAR} container of {POD} is not running; see `{describe}`")
    node = ((pod or {}).get("spec") or {}).get("nodeName")
    return run_helper(kubectl, helper_pod(sts, ["list"], node))


def wait_gone(kubectl: Kubectl, pod: str, timeout: float = WAIT_SECONDS) -> None:
    """Until the pod is gone: its claims are ReadWriteOnce, the one-off pod needs them."""
    deadline = time.monotonic() + timeout
    while kubectl.get("pod", pod) is not None:
        if time.monotonic() > deadline:
            shown = kubectl.shown("get", "pod", pod)
            raise Stop(f"{pod} is still there after {timeout:.0f} s; see `{shown}`")
        time.sleep(1)


def kubernetes_restore(kubectl: Kubectl, sts: dict, name: str) -> None:
    stop = ("scale", "statefulset", WEBUI, "--replicas=0")
    start = ("scale", "statefulset", WEBUI, "--replicas=1")
    say(f"stopping Open WebUI: {kubectl.shown(*stop)}")
    kubectl(*stop)
    try:
        wait_gone(kubectl, POD)
        say(f"restoring {name} in the one-off pod {HELPER} (Open WebUI's image and claims)")
        print(run_helper(kubectl, helper_pod(sts, ["restore", name], None)), end="")
    finally:
        say(f"starting Open WebUI: {kubectl.shown(*start)}")
        kubectl(*start)
    rollout = ("rollout", "status", f"statefulset/{WEBUI}", f"--timeout={WAIT_SECONDS}s")
    say(f"waiting until it is ready: {kubectl.shown(*rollout)}")
    kubectl(*rollout)


def kubernetes(settings: Settings, command: str, name: str | None) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        kubectl = Kubectl(settings, Path(scratch))
        sts = statefulset(kubectl)
        if command != "restore":
            print(in_backup_container(kubectl, sts, command), end="")
            return
        assert name is not None
        require(name, in_backup_container(kubectl, sts, "list"))
        kubernetes_restore(kubectl, sts, name)


def require(name: str, listing: str) -> None:
    if not any(line.split(" ")[0] == name for line in listing.splitlines()):
        raise Stop(f"no snapshot {name}; there are:\n{listing.rstrip()}")


# --- Docker: the Engine API at docker.host -------------------------------------------------------


def docker_exec(container, mode: str, *args: str) -> str:
    code, output = container.exec_run(backup.command(mode, *args))
    text = output.decode(errors="replace")
    if code != 0:
        raise Stop(
            f"`docker exec {container.name} {' '.join(backup.command(mode, *args))}` "
            f"failed:\n{text.strip()}"
        )
    return text


def wait_healthy(container, timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while True:
        container.reload()
        health = (container.attrs["State"].get("Health") or {}).get("Status")
        if health == "healthy":
            return
        if time.monotonic() > deadline:
            raise Stop(
                f"{container.name} is not healthy after {timeout:.0f} s ({health}); see "
                f"`docker logs {container.name}`"
            )
        time.sleep(2)


def docker_target(host: str, command: str, name: str | None) -> None:
    import docker  # the Docker SDK, as scripts/docker_preflight.py

    client = docker.DockerClient(
        base_url=host, version="auto", timeout=120, use_ssh_client=host.startswith("ssh://")
    )
    try:
        try:
            scheduler = client.containers.get(names.BACKUP)
            webui = client.containers.get(WEBUI)
        except docker.errors.NotFound as missing:
            raise Stop(
                f"{missing.explanation}: run `pulumi up` (with webui.backup.enabled true)"
            ) from None
        if scheduler.status != "running":
            say(f"starting {names.BACKUP}: docker start {names.BACKUP}")
            scheduler.start()
        if command != "restore":
            print(docker_exec(scheduler, command), end="")
            return
        assert name is not None
        require(name, docker_exec(scheduler, "list"))
        say(f"stopping Open WebUI: docker stop {WEBUI}")
        webui.stop(timeout=30)
        try:
            restore = " ".join(backup.command("restore", name))
            say(f"restoring {name}: docker exec {names.BACKUP} {restore}")
            print(docker_exec(scheduler, "restore", name), end="")
        finally:
            say(f"starting Open WebUI: docker start {WEBUI}")
            webui.start()
        say(f"waiting until it is healthy (docker ps --filter name={WEBUI})")
        wait_healthy(webui)
    finally:
        client.close()


def main(argv: list[str]) -> int:
    if (
        len(argv) < 3
        or argv[2] not in ("list", "snapshot", "restore")
        or ((argv[2] == "restore") != (len(argv) == 4))
        or len(argv) > 4
    ):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    stack, command, name = argv[1], argv[2], (argv[3] if len(argv) == 4 else None)
    try:
        settings = stack_settings(stack)
        if not settings.webui.backup.enabled:
            raise Stop(
                f"webui.backup.enabled is false for stack {stack}; turn backups on with "
                f"`pulumi config set --path webui.backup.enabled true` and `pulumi up`"
            )
        if settings.target == "docker":
            docker_target(settings.docker.host, command, name)
        else:
            kubernetes(settings, command, name)
        if name:
            say(f"Open WebUI is back with {name}")
    except Stop as stop:
        print(f"backups: {stop}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
