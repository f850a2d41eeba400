"""Helpers for the docker target's engine tier: private dockerd instances, stand-in images, and
the provider's create sequence replayed from the container inputs the program renders.

No pulumi-docker provider can be built here (engine.md: it needs a patched copy of the upstream
Terraform provider), so the inputs recorded by tests/harness.py are sent to a real Docker Engine
in the order and shape terraform-provider-docker v4.5.0 (pulumi-docker 5.x's upstream) uses in
its container create: create with network_mode "bridge", disconnect from "bridge" and connect
networks_advanced, upload files, start, then poll the health check while `wait` is set.

Each engine runs in its own network namespace (`unshare --net`), with its data root, exec root
and socket in a temporary folder: it cannot see or touch a system Docker, the host's network or
its iptables, and it is stopped and removed at the end.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from docker_read_back import MIB, NANO, duration_ns

ROOT = Path(__file__).resolve().parents[2]
ENGINE_SCRIPT = ROOT / "scripts" / "docker-engine.sh"
STANDINS = Path(__file__).resolve().parent / "docker_standins"
# Built or unpacked by scripts/docker-engine.sh; the host needs these (docker-engine.sh installs
# iptables: the engines' embedded DNS sets up its rules inside each container's namespace).
ENGINE_TOOLS = (
    "dockerd",
    "docker-create-probe",
    "dockerd-20.10",
    "containerd",
    "containerd-shim-runc-v2",
    "runc",
    "tini-static",
    "busybox",
)
HOST_TOOLS = {"unshare": "util-linux", "ip": "iproute2", "iptables": "iptables"}


def engine_bin() -> Path:
    out = subprocess.run(
        ["bash", str(ENGINE_SCRIPT), "--print"], check=True, capture_output=True, text=True
    )
    return Path(out.stdout.strip())


def missing_engine_tools(bin_dir: Path) -> list[str]:
    return [name for name in ENGINE_TOOLS if not os.access(bin_dir / name, os.X_OK)]


def missing_host_tools() -> list[str]:
    return [
        f"{tool} ({package})" for tool, package in HOST_TOOLS.items() if shutil.which(tool) is None
    ]


@dataclass
class Engine:
    binary: Path
    workdir: Path
    process: subprocess.Popen
    api: docker.APIClient  # noqa: F821

    @property
    def host(self) -> str:
        return f"unix://{self.workdir / 'docker.sock'}"

    @property
    def log(self) -> str:
        return (self.workdir / "dockerd.log").read_text(errors="replace")


def start_engine(binary: Path, workdir: Path, timeout: float = 90) -> Engine:
    import docker

    workdir.mkdir(parents=True)
    sock = workdir / "docker.sock"
    flags = [
        f"--host=unix://{sock}",
        f"--data-root={workdir / 'data'}",
        f"--exec-root={workdir / 'exec'}",
        f"--pidfile={workdir / 'dockerd.pid'}",
        "--storage-driver=vfs",
        "--iptables=false",
        "--ip-forward=false",
        "--userland-proxy=false",
        f"--init-path={binary.parent / 'tini-static'}",
    ]
    # Its own network namespace: bridges made there are invisible to the host, so the default
    # bridge may stay (the provider creates every container on it first, then moves it).
    command = [
        "unshare",
        "--net",
        "--",
        "sh",
        "-c",
        'ip link set lo up && exec "$@"',
        "sh",
        str(binary),
        *flags,
    ]
    log = open(workdir / "dockerd.log", "wb")
    # containerd, its shim and runc are found on PATH: the unpacked ones next to dockerd.
    env = {**os.environ, "PATH": f"{binary.parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{binary.name} exited: {(workdir / 'dockerd.log').read_text()}")
        if sock.exists():
            api = docker.APIClient(base_url=f"unix://{sock}", version="auto", timeout=60)
            try:
                api.ping()
                return Engine(binary, workdir, process, api)
            except Exception:
                api.close()
        time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"{binary.name} did not answer in {timeout}s")


def stop_engine(engine: Engine) -> None:
    try:
        for found in engine.api.containers(all=True, quiet=True):
            engine.api.remove_container(found["Id"], force=True, v=False)
    finally:
        engine.api.close()
        engine.process.terminate()
        try:
            engine.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            engine.process.kill()
            engine.process.wait()
        for mount in reversed(_mounts_under(engine.workdir)):
            subprocess.run(["umount", "-l", mount], check=False)
        shutil.rmtree(engine.workdir, ignore_errors=True)


def _mounts_under(path: Path) -> list[str]:
    prefix = str(path) + "/"
    return [
        line.split()[1]
        for line in Path("/proc/self/mounts").read_text().splitlines()
        if line.split()[1].startswith(prefix)
    ]


# --- stand-in images ---------------------------------------------------------------------------


_FOLDERS = (
    "bin",
    "usr",
    "usr/bin",
    "usr/share",
    "usr/share/standin",
    "tmp",
    "root",
    "etc",
    "app",
    "app/backend",
)


def _rootfs_tar(busybox: Path, extra: dict[str, Path]) -> bytes:
    """A static busybox with every applet in /bin, plus `extra` (path in image -> host file)."""
    applets = subprocess.run(
        [str(busybox), "--list"], check=True, capture_output=True, text=True
    ).stdout.split()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for folder in _FOLDERS:
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if folder == "tmp" else 0o755
            tar.addfile(info)
        tar.add(busybox, "bin/busybox")
        for applet in applets:
            if applet not in ("busybox",) and f"bin/{applet}" not in extra:
                link = tarfile.TarInfo(f"bin/{applet}")
                link.type, link.linkname = tarfile.SYMTYPE, "busybox"
                tar.addfile(link)
        passwd = b"root:x:0:0:root:/root:/bin/sh\n"
        info = tarfile.TarInfo("etc/passwd")
        info.size = len(passwd)
        tar.addfile(info, io.BytesIO(passwd))
        made = set(_FOLDERS)
        for target, source in sorted(extra.items()):
            parent = target.rsplit("/", 1)[0] if "/" in target else ""
            parts = parent.split("/") if parent else []
            for depth in range(1, len(parts) + 1):
                folder = "/".join(parts[:depth])
                if folder not in made:
                    info = tarfile.TarInfo(folder)
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)
                    made.add(folder)
            tar.add(source, target)
    return buffer.getvalue()


def _split(image: str) -> tuple[str, str]:
    repository, _, tag = image.rpartition(":")
    if "/" in tag or not repository:
        return image, "latest"
    return repository, tag


def import_image(api, busybox: Path, image: str, files: dict[str, Path], changes: list[str]) -> str:
    repository, tag = _split(image)
    api.import_image_from_data(
        _rootfs_tar(busybox, files), repository=repository, tag=tag, changes=changes
    )
    return api.inspect_image(image)["Id"]


def import_standins(engine: Engine, ollama_image: str, webui_image: str) -> dict[str, str]:
    """The pinned names, with ENTRYPOINT/CMD as in the real images; name -> image id."""
    api, busybox = engine.api, engine.binary.parent / "busybox"
    ollama = import_image(
        api,
        busybox,
        ollama_image,
        {"bin/ollama": STANDINS / "ollama", "usr/share/standin/pull.cgi": STANDINS / "pull.cgi"},
        ["ENV OLLAMA_HOST=0.0.0.0:11434", 'ENTRYPOINT ["/bin/ollama"]', 'CMD ["serve"]'],
    )
    # Open WebUI's image has no ENTRYPOINT; it runs `bash start.sh` in /app/backend. Its
    # stand-in has a real python3, so the admin bootstrap and the backup script run unchanged.
    version = webui_image.rpartition(":")[2].lstrip("v")
    webui = import_python_webui(api, busybox, webui_image, version)
    return {ollama_image: ollama, webui_image: webui}


# --- a stand-in Open WebUI with a real Python (backups) ---------------------------------------

PYTHON_WEBUI = STANDINS / "python_webui"
# Standard-library parts a stand-in never imports (and the static libpython in config-*).
_STDLIB_SKIP = {
    "site-packages",
    "test",
    "idlelib",
    "tkinter",
    "turtledemo",
    "ensurepip",
    "lib2to3",
    "pydoc_data",
    "distutils",
    "__pycache__",
}


def _shared_libraries(binary: Path) -> dict[str, Path]:
    """What the dynamic linker loads for `binary`: path in the image -> real file here."""
    found = {}
    for line in subprocess.run(
        ["ldd", str(binary)], capture_output=True, text=True, check=True
    ).stdout.splitlines():
        parts = line.split()
        path = parts[2] if "=>" in parts and len(parts) > 2 else parts[0]
        if path.startswith("/"):
            found[path.lstrip("/")] = Path(path).resolve()
    return found


def python_runtime() -> dict[str, Path]:
    """This test's own Python (binary, libpython, standard library, the shared libraries they
    load), at the same absolute paths in the image: what the Open WebUI image's python3 is to
    the backup script (sqlite3, json, signal ...). Extension modules that need X11/Tk are left
    out."""
    prefix = Path(sys.base_prefix)
    binary = Path(os.path.realpath(sys.executable))
    stdlib = prefix / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    files = {"usr/bin/python3": binary, **_shared_libraries(binary)}
    files[str(binary).lstrip("/")] = binary
    for path in stdlib.rglob("*"):
        relative = path.relative_to(stdlib)
        if set(relative.parts) & _STDLIB_SKIP or relative.parts[0].startswith("config-"):
            continue
        if path.is_file() and path.suffix == ".so":
            libraries = _shared_libraries(path)
            if any(("libX" in name or "libtk" in name) for name in libraries):
                continue
            files.update(libraries)
        if path.is_file():
            files[str(path).lstrip("/")] = path
    return files


def import_python_webui(api, busybox: Path, image: str, version: str) -> str:
    """A stand-in Open WebUI image with a real python3 and sqlite3 module, a stand-in
    `open_webui` package that "migrates" webui.db (it records STANDIN_VERSION, so a snapshot
    shows which version last wrote it) and a server answering /health and /ready."""
    files = {
        **python_runtime(),
        "usr/bin/curl": STANDINS / "curl",
        "bin/bash": STANDINS / "bash",
        "app/backend/start.sh": PYTHON_WEBUI / "start.sh",
        "app/backend/standin_server.py": PYTHON_WEBUI / "standin_server.py",
    }
    for path in (PYTHON_WEBUI / "open_webui").rglob("*.py"):
        files[f"app/backend/{path.relative_to(PYTHON_WEBUI)}"] = path
    changes = [
        "WORKDIR /app/backend",
        f"ENV PYTHONHOME={sys.base_prefix}",
        "ENV PYTHONDONTWRITEBYTECODE=1",
        f"ENV STANDIN_VERSION={version}",
        'CMD ["bash", "start.sh"]',
    ]
    return import_image(api, busybox, image, files, changes)


# --- the provider's create sequence ------------------------------------------------------------


def nano_cpus(text: str) -> int:
    return int(Decimal(text) * NANO)


def labels(entries: list[dict] | None) -> dict[str, str]:
    return {entry["label"]: entry["value"] for entry in entries or []}


def container_body(inputs: dict, image_ids: dict[str, str]) -> dict:
    """The ContainerCreate body the provider's container create builds from these inputs."""
    health = inputs.get("healthcheck")
    ports = inputs.get("ports") or []
    host_config = {
        "NetworkMode": inputs.get("networkMode", "bridge"),
        "RestartPolicy": {"Name": inputs.get("restart", "no")},
        "Init": inputs.get("init"),
        "Memory": inputs.get("memory", 0) * MIB,
        "NanoCpus": nano_cpus(inputs["cpus"]) if "cpus" in inputs else 0,
        "Mounts": [
            {"Type": "volume", "Source": v["volumeName"], "Target": v["containerPath"]}
            for v in inputs.get("volumes") or []
        ],
        "PortBindings": {
            f"{p['internal']}/{p['protocol']}": [
                {"HostIp": p["ip"], "HostPort": str(p["external"])}
            ]
            for p in ports
        },
        "ExtraHosts": [f"{h['host']}:{h['ip']}" for h in inputs.get("hosts") or []],
    }
    if "memorySwap" in inputs:
        swap = inputs["memorySwap"]
        host_config["MemorySwap"] = swap * MIB if swap > 0 else swap
    body = {
        "Image": image_ids[inputs["image"]],
        "Env": inputs.get("envs") or [],
        "Labels": labels(inputs.get("labels")),
        "ExposedPorts": {f"{p['internal']}/{p['protocol']}": {} for p in ports},
        "HostConfig": host_config,
    }
    if inputs.get("entrypoints"):
        body["Entrypoint"] = inputs["entrypoints"]
    if inputs.get("command"):
        body["Cmd"] = inputs["command"]
    if health:
        body["Healthcheck"] = {
            "Test": health["tests"],
            "Retries": health.get("retries", 0),
            **{
                field: duration_ns(health[key])
                for key, field in (
                    ("interval", "Interval"),
                    ("timeout", "Timeout"),
                    ("startPeriod", "StartPeriod"),
                    ("startInterval", "StartInterval"),
                )
                if key in health
            },
        }
    return body


def _upload_tar(uploads: list[dict]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for upload in uploads:
            data = upload["content"].encode()
            info = tarfile.TarInfo(upload["file"].lstrip("/"))
            info.size, info.mode = len(data), 0o744 if upload.get("executable") else 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def create_network(api, inputs: dict) -> str:
    return api.create_network(
        inputs["name"], driver=inputs.get("driver", "bridge"), labels=labels(inputs.get("labels"))
    )["Id"]


def create_volume(api, inputs: dict) -> str:
    return api.create_volume(name=inputs["name"], labels=labels(inputs.get("labels")))["Name"]


def create_container(api, inputs: dict, image_ids: dict[str, str], start: bool = True) -> str:
    """Create, move to networks_advanced, upload, start: the provider's order."""
    created = api.create_container_from_config(
        container_body(inputs, image_ids), name=inputs["name"]
    )["Id"]
    if inputs.get("networksAdvanced"):
        api.disconnect_container_from_network(created, "bridge")
        for network in inputs["networksAdvanced"]:
            api.connect_container_to_network(created, network["name"])
    if inputs.get("uploads"):
        api.put_archive(created, "/", _upload_tar(inputs["uploads"]))
    if start:
        api.start(created)
    return created


def create_with_go_client(engine: Engine, inputs: dict, image_ids: dict[str, str]) -> dict:
    """ContainerCreate through the provider's Docker Go client (docker-create-probe): its
    version checks run. {"id" or "error", "apiVersion"}."""
    probe = engine.binary.parent / "docker-create-probe"
    done = subprocess.run(
        [str(probe), engine.host, inputs["name"]],
        capture_output=True,
        text=True,
        input=json.dumps(container_body(inputs, image_ids)),
        timeout=60,
    )
    return json.loads(done.stdout)


def wait_healthy(api, container: str, timeout: float) -> tuple[bool, dict]:
    """The provider's `wait`: poll until healthy, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        state = api.inspect_container(container)["State"]
        if (state.get("Health") or {}).get("Status") == "healthy":
            return True, state
        if time.monotonic() > deadline:
            return False, state
        time.sleep(1)


def logs(api, container: str) -> str:
    return api.logs(container, stdout=True, stderr=True).decode(errors="replace")


def wait_for_log(api, container: str, text: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        found = logs(api, container)
        if text in found or time.monotonic() > deadline:
            return found
        time.sleep(1)


def is_root() -> bool:
    return os.geteuid() == 0
