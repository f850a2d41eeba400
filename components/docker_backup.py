"""Open WebUI's backups on the Docker target (the shared parts: components/webui_backup.py).

* Before every start, Open WebUI's container runs `webui-backup.py prepare` first: a new image
  starts only after its snapshot. When that fails the command exits, Docker restarts the container
  (`docker ps`: Restarting) with the reason in `docker logs open-webui`, and `up` fails on the
  health check instead of reporting Open WebUI healthy.
* The container `open-webui-backup` follows the schedule, with both volumes and no network.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components import docker_forms as forms
from components import webui_backup as backup
from components.docker_names import BACKUP, WEBUI
from components.webui_env import DATA_DIR
from components.webui_env import start_command as webui_start_command
from settings.sidecars import BACKUP_RESOURCES
from settings.webui import WebUi

# The backup container is healthy once its schedule runs and can write the backup volume.
BACKUP_WAIT_SECONDS = 120


def start_command(webui: WebUi) -> list[str] | None:
    """Open WebUI's command (webui_env.start_command), after the pre-upgrade snapshot."""
    command = webui_start_command(webui)
    if not webui.backup.enabled:
        return command
    prepare = backup.prepare_shell(webui)
    if command is None:  # no admin bootstrap: the image's own command after the snapshot
        return ["bash", "-c", f"{prepare} && exec bash start.sh"]
    bash, flag, shell, *script = command
    return [bash, flag, f"{prepare} && {shell}", *script]


def script_uploads() -> list[docker.ContainerUploadArgs]:
    return [
        docker.ContainerUploadArgs(
            file=f"{backup.SCRIPT_DIR}/{path.name}", content=path.read_text()
        )
        for path in backup.SCRIPTS
    ]


@dataclass(frozen=True)
class Mounts:
    """Open WebUI's data volume, and the backup volume when backups are on."""

    data: docker.Volume
    backups: docker.Volume | None

    def volumes(self) -> list[docker.ContainerVolumeArgs]:
        found = [docker.ContainerVolumeArgs(volume_name=self.data.name, container_path=DATA_DIR)]
        if self.backups is not None:
            found.append(
                docker.ContainerVolumeArgs(
                    volume_name=self.backups.name, container_path=backup.BACKUP_DIR
                )
            )
        return found


@dataclass(frozen=True)
class SchedulerArgs:
    webui: WebUi
    image: docker.RemoteImage
    mounts: Mounts


def scheduler(logical: str, args: SchedulerArgs, parent: pulumi.Resource) -> docker.Container:
    """The schedule; healthy once it runs and can write the backup volume."""
    limits = BACKUP_RESOURCES["limits"]
    return docker.Container(
        logical,
        name=BACKUP,
        image=args.image.image_id,
        command=backup.command("schedule"),
        envs=forms.env_list(backup.backup_env(args.webui)),
        volumes=args.mounts.volumes(),
        uploads=script_uploads(),
        network_mode="none",
        labels=forms.container_labels(WEBUI, "backup"),
        restart="unless-stopped",
        init=True,  # SIGTERM reaches python3, which stops between snapshots
        healthcheck=forms.healthcheck(["test", "-e", backup.READY_FILE], start_period_seconds=60),
        wait=True,
        wait_timeout=BACKUP_WAIT_SECONDS,
        **forms.container_limits(limits["cpu"], limits["memory"], "backup"),
        opts=pulumi.ResourceOptions(parent=parent),
    )
