#!/usr/bin/env python3
"""Checks a docker stack against its Docker Engine before `pulumi up` creates anything.

    .venv/bin/python scripts/docker_preflight.py <stack>      (make up/preview run it)

What only the engine knows, and the Pulumi program cannot ask it without side effects at
preview (the provider has no call that reads `docker info`, and the program may run on another
machine than the engine, e.g. docker.host ssh://... or Docker Desktop's VM):
  * its version: the stack needs Docker 20.10 (Engine API 1.41) or newer;
  * its CPU count: Docker refuses a `cpus` limit above it ("range of CPUs is from 0.01 to N");
  * swap accounting: without it each `up` shows an in-place update of memorySwap (a note only).
Exit status 1 with one line per problem, each naming the setting and the fix; 0 otherwise.
Settings the program itself would refuse are left to `pulumi up`, which reports them better.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.docker_stack import MIN_DOCKER_API, MIN_DOCKER_VERSION  # noqa: E402
from settings import PROJECT, Settings, SettingsError, parse_cli_config  # noqa: E402
from settings.quantity import parse_quantity  # noqa: E402


@dataclass(frozen=True)
class EngineFacts:
    version: str
    api_version: str
    cpus: int
    swap_limit: bool


def api_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def cpu_limits(settings: Settings) -> dict[str, str]:
    """Setting key -> CPU limit, for each container with a limit that is set by the user."""
    limits = {"webui.resources.limits.cpu": settings.webui.resources.limits.cpu}
    if settings.docker.run_ollama:
        limits["ollama.resources.limits.cpu"] = settings.ollama.resources.limits.cpu
    return limits


def check(settings: Settings, engine: EngineFacts) -> tuple[list[str], list[str]]:
    """(problems that stop `up`, notes) for these settings on this engine."""
    host = settings.docker.host
    if api_tuple(engine.api_version) < api_tuple(MIN_DOCKER_API):
        return [
            f"{PROJECT}:docker.host ({host}): Docker Engine {engine.version} (API "
            f"{engine.api_version}) is too old; the docker target needs Docker "
            f"{MIN_DOCKER_VERSION} (API {MIN_DOCKER_API}) or newer: update Docker there, or "
            f"point docker.host at a newer engine"
        ], []
    problems = []
    for key, limit in cpu_limits(settings).items():
        if parse_quantity(limit) > engine.cpus:
            problems.append(
                f"{PROJECT}:{key} (given: {limit}): the Docker host {host} has {engine.cpus} "
                f"CPUs and refuses a larger limit; lower it with "
                f"`pulumi config set --path {key} {engine.cpus}`"
            )
    notes = []
    if not engine.swap_limit:
        notes.append(
            f"note: the Docker host {host} has no swap accounting (cgroup v1 without "
            f"swapaccount=1), so Docker stores memorySwap as -1 and each `up` shows an "
            f"in-place update of memorySwap; the containers keep running. Booting with "
            f"cgroup v2 (or swapaccount=1) removes it."
        )
    return problems, notes


def engine_facts(host: str) -> EngineFacts:
    import docker  # the Docker SDK; only this script and the engine tests use it

    client = docker.DockerClient(
        base_url=host, version="auto", timeout=15, use_ssh_client=host.startswith("ssh://")
    )
    try:
        version, info = client.version(), client.info()
    finally:
        client.close()
    return EngineFacts(
        version=version["Version"],
        api_version=version["ApiVersion"],
        cpus=int(info["NCPU"]),
        swap_limit=bool(info.get("SwapLimit")),
    )


class ConfigUnreadable(Exception):
    """`pulumi config` itself failed; the message is the CLI's own."""


def stack_settings(stack: str) -> Settings | None:
    """The stack's settings from `pulumi config`, or None when `pulumi up` would refuse them."""
    listed = subprocess.run(
        ["pulumi", "config", "--json", "--stack", stack], capture_output=True, text=True, cwd=ROOT
    )
    if listed.returncode != 0:
        raise ConfigUnreadable(listed.stderr.strip() or f"pulumi config --stack {stack} failed")
    try:
        return parse_cli_config(listed.stdout)
    except SettingsError:
        return None


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.split("\n\n")[1].strip(), file=sys.stderr)
        return 2
    try:
        settings = stack_settings(argv[1])
    except ConfigUnreadable as error:
        print(error, file=sys.stderr)
        return 1
    if settings is None or settings.target != "docker":
        return 0
    try:
        engine = engine_facts(settings.docker.host)
    except Exception as error:  # any failure to reach the daemon is the same advice
        print(
            f"{PROJECT}:docker.host ({settings.docker.host}): cannot reach Docker ({error}); "
            f"start Docker, or set the host with `pulumi config set --path docker.host <url>`",
            file=sys.stderr,
        )
        return 1
    problems, notes = check(settings, engine)
    for line in notes:
        print(line)
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
