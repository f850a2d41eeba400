"""The `webui.backup` section: snapshots of Open WebUI's database, where they are kept, how often
and how many.

The schedule is read by the code that follows it (payloads/backup_schedule.py, which the backup
container runs with the Open WebUI image's python3), so a schedule accepted here is exactly one
the container can follow; that file is loaded as a plain file, it is not part of this package.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Annotated

from pydantic import AfterValidator, Field

from settings.base import Model, Storage

PAYLOADS = Path(__file__).resolve().parents[1] / "payloads"
SCRIPT = PAYLOADS / "webui-backup.py"
SCHEDULE_SCRIPT = PAYLOADS / "backup_schedule.py"


@cache
def schedule_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("icc_backup_schedule", SCHEDULE_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _check_schedule(value: str) -> str:
    try:
        schedule_module().parse_schedule(value)
    except ValueError as error:
        raise ValueError(
            f"{error}; give five cron fields in UTC, e.g. '30 2 * * *' (daily at 02:30) or "
            f"'0 */6 * * *' (every six hours), or @hourly, @daily, @weekly"
        ) from None
    return value


Schedule = Annotated[str, AfterValidator(_check_schedule)]


class Backup(Model):
    """Scheduled snapshots plus one before each new Open WebUI image first runs on the data."""

    # False: no snapshots, no backup claim or volume (an existing one is kept, not deleted).
    enabled: bool = True
    schedule: Schedule = "30 2 * * *"
    # How many snapshots of each kind (scheduled, pre-upgrade, manual, pre-restore) are kept.
    retention: int = Field(default=14, ge=1, le=1000)
    # Kubernetes only: the claim of its own (Docker: the volume open-webui-backups).
    storage: Storage = Storage(size="5Gi")
