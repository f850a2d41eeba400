"""Snapshots of Open WebUI's database (webui.db), taken with SQLite's online backup API.

Runs in the Open WebUI image (python3, the standard library only; components/webui_backup.py).

    webui-backup.py prepare          before Open WebUI starts: a `pre-upgrade` snapshot when the
                                     image differs from the one that last ran on the data
    webui-backup.py schedule         the loop: a `scheduled` snapshot at each ICC_BACKUP_SCHEDULE
    webui-backup.py alive            exit 0 while the loop runs (it marks its ready file each
                                     minute): the sidecar's liveness check
    webui-backup.py snapshot         one `manual` snapshot now
    webui-backup.py list             the snapshots, newest first
    webui-backup.py restore NAME     replace webui.db by a snapshot (Open WebUI must be stopped)

Never a file copy: Open WebUI keeps webui.db in WAL mode (DATABASE_ENABLE_SQLITE_WAL, on by
default in 0.11), so committed rows may still be in webui.db-wal, and a copy taken during a write
mixes two states. The backup API copies one consistent state in one read transaction (in WAL
mode it blocks no writer); each copy must pass `PRAGMA integrity_check`. A snapshot is NAME.db
plus NAME.json (kind, time, the image that wrote the data).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

# Both next to this file (the ConfigMap or the Docker uploads put them there).
from backup_schedule import next_run, parse_schedule
from sqlite_copy import CopyFailed, copy_database

BACKUP_DIR = Path(os.environ.get("ICC_BACKUP_DIR", "/backups"))
DATA_DIR = Path(os.environ.get("ICC_DATA_DIR", "/app/backend/data"))
DATABASE = "webui.db"
DB = DATA_DIR / DATABASE
RETENTION = int(os.environ.get("ICC_BACKUP_RETENTION", "7"))  # snapshots of each kind
# The image that last started on this data: written by `prepare`, and by `restore` (the image
# that wrote the restored snapshot, so the next start takes its pre-upgrade snapshot again).
MARKER = ".icc-ollama-webui-image"
# The loop's ready file: made once the backup store is writable, marked again at every turn.
READY_FILE = Path(os.environ.get("ICC_BACKUP_READY_FILE", "/tmp/webui-backup-ready"))
# How long the loop may go without a turn: it turns each minute, and a snapshot in between takes
# minutes even for a large database; an hour means it hangs.
ALIVE_SECONDS = 3600
STOP = threading.Event()


class Failure(Exception):
    """What went wrong and what to do, in one line."""


def log(message: str) -> None:
    print(f"{datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ} webui-backup: {message}", flush=True)


# --- snapshots ---------------------------------------------------------------------------------


def stamp(when: datetime) -> str:
    return f"{when:%Y%m%dT%H%M%SZ}"


def recorded_image() -> str | None:
    marker = DATA_DIR / MARKER
    return marker.read_text().strip() or None if marker.exists() else None


def snapshot(kind: str, note: str = "") -> dict:
    if not DB.exists():
        raise Failure(f"no {DB} yet: nothing to snapshot")
    started, now = time.monotonic(), datetime.now(timezone.utc)
    name = f"webui-{stamp(now)}-{kind}"
    for n in range(2, 100):
        if not (BACKUP_DIR / f"{name}.db").exists():
            break
        name = f"webui-{stamp(now)}-{kind}-{n}"
    partial = BACKUP_DIR / f"{name}.db.partial"
    try:
        found = copy_database(DB, partial)
        meta: dict = {"name": name, "kind": kind, "created": now.isoformat()}
        meta.update(image=recorded_image(), note=note, bytes=partial.stat().st_size, **found)
        (BACKUP_DIR / f"{name}.json").write_text(json.dumps(meta, indent=1) + "\n")
        os.replace(partial, BACKUP_DIR / f"{name}.db")
    except (sqlite3.Error, OSError, CopyFailed) as error:
        raise Failure(f"snapshot {name} failed: {error}{space_hint()}") from None
    finally:
        partial.unlink(missing_ok=True)
    log(f"snapshot {name} ({describe(meta)}) in {time.monotonic() - started:.1f} s")
    return meta


def space_hint() -> str:
    try:
        free = os.statvfs(BACKUP_DIR)
        return f" ({free.f_bavail * free.f_frsize / 2**20:.0f} MiB free in {BACKUP_DIR})"
    except OSError:
        return ""


def describe(meta: dict) -> str:
    users, chats = meta.get("users"), meta.get("chats")
    return f"{meta.get('bytes', 0) / 2**20:.1f} MiB, {users} users, {chats} chats"


def snapshots(kind: str | None = None) -> list[dict]:
    """Every complete snapshot (its .db and .json), newest first."""
    found = []
    for meta_file in BACKUP_DIR.glob("webui-*.json"):
        try:
            meta = json.loads(meta_file.read_text())
        except (OSError, ValueError):
            continue
        if (BACKUP_DIR / f"{meta_file.stem}.db").exists() and kind in (None, meta.get("kind")):
            found.append(meta)
    return sorted(found, key=lambda meta: (meta["created"], meta["name"]), reverse=True)


def prune(kind: str, keep: int) -> None:
    for meta in snapshots(kind)[keep:]:
        for suffix in (".db", ".json"):
            (BACKUP_DIR / f"{meta['name']}{suffix}").unlink(missing_ok=True)
        log(f"removed {meta['name']} (more than {keep} {kind} snapshots)")


# --- the modes ---------------------------------------------------------------------------------


def prepare() -> None:
    """Before Open WebUI starts: its first start on a new image runs one-way migrations."""
    image, before = os.environ["ICC_WEBUI_IMAGE"], recorded_image()
    for partial in BACKUP_DIR.glob("*.partial"):
        partial.unlink()  # left by a snapshot that was killed
    if before != image and DB.exists():
        log(f"the data was last run by {before or 'an unrecorded image'}; now {image}")
        try:
            snapshot("pre-upgrade", f"before {image} first ran on it")
        except Failure as error:
            raise Failure(
                f"{error}. {image} does not start until this snapshot succeeds (it would migrate "
                f"the database one way): make room (scripts/backups.py list; a smaller "
                f"webui.backup.retention or a larger webui.backup.storage.size), or go back to "
                f"webui.image {before}"
            ) from None
        prune("pre-upgrade", RETENTION)
    (DATA_DIR / MARKER).write_text(image + "\n")


def schedule() -> None:
    spec = parse_schedule(os.environ["ICC_BACKUP_SCHEDULE"])
    probe = BACKUP_DIR / ".write-test"
    probe.write_text("ok")  # fails at once, visibly, if the backup store is not writable
    probe.unlink()
    READY_FILE.touch()
    started, attempted, announced = datetime.now(timezone.utc), None, None
    while not STOP.is_set():
        READY_FILE.touch()
        # After the newest scheduled snapshot (or the last try): a time missed while the
        # service was down is made up at once; the first one ever waits for its slot.
        since = [datetime.fromisoformat(meta["created"]) for meta in snapshots("scheduled")[:1]]
        since += [attempted] if attempted else []
        due = next_run(spec, max(since) if since else started)
        assert due is not None  # parse_schedule refuses schedules that never match
        now = datetime.now(timezone.utc)
        if due > now:
            if due != announced:
                log(f"next scheduled snapshot at {due:%Y-%m-%d %H:%M} UTC (keeping {RETENTION})")
                announced = due
            STOP.wait(min((due - now).total_seconds(), 60))
            continue
        attempted = now
        try:
            snapshot("scheduled")
            prune("scheduled", RETENTION)
        except Failure as error:
            log(f"{error}; next try at the next scheduled time")


def alive() -> None:
    try:
        age = time.time() - READY_FILE.stat().st_mtime
    except FileNotFoundError:
        raise Failure("the schedule loop has not started") from None
    if age > ALIVE_SECONDS:
        raise Failure(f"the schedule loop has not turned for {age:.0f} s")


def manual() -> None:
    snapshot("manual")
    prune("manual", RETENTION)


def show() -> None:
    found = snapshots()
    if not found:
        print(f"no snapshots in {BACKUP_DIR} yet")
    for meta in found:
        when = f"{datetime.fromisoformat(meta['created']):%Y-%m-%d %H:%M:%S} UTC"
        image = meta.get("image") or "an unrecorded image"
        print(f"{meta['name']:44} {when}  {describe(meta)}, written by {image}")


def restore(name: str) -> None:
    """Open WebUI must be stopped: its open connections would keep writing the old file."""
    source = BACKUP_DIR / f"{name.removesuffix('.db')}.db"
    metas = [meta for meta in snapshots() if meta["name"] == source.stem]
    if not metas:
        raise Failure(f"no snapshot {source.stem} in {BACKUP_DIR}; `list` shows them")
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    staged = DATA_DIR / f"{DATABASE}.restoring"
    try:
        found = copy_database(source, staged)  # checked before anything else is touched
        if DB.exists():
            try:
                snapshot("pre-restore", f"before {source.stem} was restored")
                prune("pre-restore", RETENTION)
            except Failure as error:  # e.g. the file is corrupt: keep it aside instead
                aside = DATA_DIR / f"{DATABASE}.before-restore-{stamp(datetime.now(timezone.utc))}"
                os.replace(DB, aside)
                log(f"{error}; kept the old file as {aside}")
        # The old database's journal must not meet the new file: SQLite would apply it.
        for suffix in ("-wal", "-shm", "-journal"):
            (DATA_DIR / f"{DATABASE}{suffix}").unlink(missing_ok=True)
        os.replace(staged, DB)
    finally:
        staged.unlink(missing_ok=True)
    image = metas[0].get("image")
    if image:
        (DATA_DIR / MARKER).write_text(image + "\n")
    else:
        (DATA_DIR / MARKER).unlink(missing_ok=True)
    log(
        f"restored {source.stem} ({found['users']} users, {found['chats']} chats, schema "
        f"{found['schema']}, written by {image or 'an unrecorded image'}); Open WebUI "
        f"migrates it on its next start if its version is newer"
    )


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, lambda *_: STOP.set())
    modes = {
        "prepare": prepare,
        "schedule": schedule,
        "alive": alive,
        "list": show,
        "snapshot": manual,
    }
    try:
        if len(argv) == 2 and argv[0] == "restore":
            restore(argv[1])
        elif len(argv) == 1 and argv[0] in modes:
            modes[argv[0]]()
        else:
            print(__doc__.split("\n\n")[2], file=sys.stderr)
            return 2
    except (Failure, CopyFailed, ValueError, KeyError, OSError, sqlite3.Error) as error:
        message = f"webui-backup {' '.join(argv[:1])} failed: {error}"
        print(message, file=sys.stderr, flush=True)
        termination_log(message)
        return 1
    return 0


def termination_log(message: str) -> None:
    """Kubernetes shows this file as the container's termination message (`kubectl describe`);
    the kubelet mounts it, so it exists only there."""
    path = Path("/dev/termination-log")
    if path.is_file():
        try:
            path.write_text(message + "\n")
        except OSError:
            pass


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
