"""payloads/webui-backup.py run for real (its CLI, as the containers run it) on small SQLite
databases made here; tests/test_backup_upstream.py does the same on a database made by the real
Open WebUI package's migrations. The schedule parser is payloads/backup_schedule.py."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing, redirect_stderr, redirect_stdout
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.webui_backup import SCRIPTS
from settings.backup import SCHEDULE_SCRIPT, SCRIPT, schedule_module

schedule = schedule_module()
UTC = timezone.utc


def make_db(path: Path, users: int = 2, chats: int = 3, wal: bool = True) -> None:
    """A database with Open WebUI's table names for what a listing counts."""
    with closing(sqlite3.connect(path)) as db, db:
        if wal:
            db.execute("PRAGMA journal_mode=WAL")
        db.execute('CREATE TABLE "user" (id TEXT PRIMARY KEY, email TEXT)')
        db.execute("CREATE TABLE chat (id TEXT PRIMARY KEY, user_id TEXT, title TEXT)")
        db.execute("CREATE TABLE alembic_version (version_num TEXT)")
        db.execute("INSERT INTO alembic_version VALUES ('rev1')")
        db.executemany(
            'INSERT INTO "user" VALUES (?, ?)', [(f"u{i}", f"u{i}@x") for i in range(users)]
        )
        db.executemany(
            "INSERT INTO chat VALUES (?, 'u0', ?)", [(f"c{i}", f"chat {i}") for i in range(chats)]
        )
    # Closed: its WAL content is checkpointed. Tests that need rows left in webui.db-wal keep
    # a connection open themselves.


def load_payload():
    """A fresh copy of the script (it reads its environment when loaded), as `python3 FILE`."""
    if str(SCRIPT.parent) not in sys.path:
        sys.path.insert(0, str(SCRIPT.parent))  # its modules lie next to it, as in the container
    spec = importlib.util.spec_from_file_location("webui_backup_under_test", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(store, *args: str, image: str = "img:v1", **env: str) -> subprocess.CompletedProcess:
    """The script's CLI with the containers' environment, in this process (fast); the schedule
    test below runs it as its own process."""
    environment = {
        "ICC_DATA_DIR": str(store["data"]),
        "ICC_BACKUP_DIR": str(store["backups"]),
        "ICC_WEBUI_IMAGE": image,
        "ICC_BACKUP_RETENTION": "2",
        "ICC_BACKUP_READY_FILE": str(store["tmp"] / "ready"),
        **env,
    }
    out, err = io.StringIO(), io.StringIO()
    handler = signal.getsignal(signal.SIGTERM)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in environment.items():
            patch.setenv(key, value)
        module = load_payload()
        try:
            with redirect_stdout(out), redirect_stderr(err):
                code = module.main(list(args))
        finally:
            signal.signal(signal.SIGTERM, handler)
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


def metas(store) -> list[dict]:
    """Every snapshot's metadata, oldest first (every .db has its .json)."""
    found = [json.loads(p.read_text()) for p in sorted(store["backups"].glob("*.json"))]
    assert {m["name"] for m in found} == {p.stem for p in store["backups"].glob("*.db")}
    return sorted(found, key=lambda meta: meta["created"])  # oldest first


def rows(path: Path) -> tuple[list, list]:
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        users = db.execute('SELECT id, email FROM "user" ORDER BY id').fetchall()
        chats = db.execute("SELECT id, title FROM chat ORDER BY id").fetchall()
    return users, chats


# --- prepare: the snapshot before a new image first runs -------------------------------------


def test_a_fresh_volume_needs_no_snapshot_and_records_the_image(store):
    done = run(store, "prepare")
    assert done.returncode == 0, done.stderr
    assert list(store["backups"].iterdir()) == []
    assert (store["data"] / ".icc-ollama-webui-image").read_text() == "img:v1\n"


def test_each_new_image_gets_one_snapshot_of_the_data_it_finds(store):
    make_db(store["data"] / "webui.db")
    assert run(store, "prepare").returncode == 0  # data from before backups existed
    assert run(store, "prepare").returncode == 0  # same image: nothing to do
    assert run(store, "prepare", image="img:v2").returncode == 0
    found = metas(store)
    assert [m["kind"] for m in found] == ["pre-upgrade", "pre-upgrade"]
    assert [m["image"] for m in found] == [None, "img:v1"]  # the image that wrote that data
    assert found[1]["note"] == "before img:v2 first ran on it"
    assert (found[1]["users"], found[1]["chats"], found[1]["schema"]) == (2, 3, "rev1")
    for meta in found:
        assert rows(store["backups"] / f"{meta['name']}.db") == rows(store["data"] / "webui.db")


def test_a_failed_snapshot_stops_the_new_image_and_says_why(store):
    make_db(store["data"] / "webui.db")
    assert run(store, "prepare").returncode == 0
    done = run(store, "prepare", image="img:v2", ICC_BACKUP_DIR=str(store["tmp"] / "missing"))
    assert done.returncode == 1
    message = done.stderr.strip()
    assert message.startswith("webui-backup prepare failed: snapshot webui-")
    assert "img:v2 does not start until this snapshot succeeds" in message
    assert "go back to webui.image img:v1" in message
    # Not recorded as started, so the next start tries again.
    assert (store["data"] / ".icc-ollama-webui-image").read_text() == "img:v1\n"
    assert run(store, "prepare", image="img:v2").returncode == 0
    assert [m["kind"] for m in metas(store)] == ["pre-upgrade", "pre-upgrade"]


def test_a_corrupt_database_is_never_kept_as_a_snapshot(store):
    (store["data"] / "webui.db").write_bytes(b"SQLite format 3\x00" + b"\xff" * 5000)
    done = run(store, "prepare")
    assert done.returncode == 1 and "does not start until this snapshot succeeds" in done.stderr
    assert list(store["backups"].iterdir()) == []


def test_retention_keeps_the_newest_of_each_kind(store):
    make_db(store["data"] / "webui.db")
    for image in ("a:1", "a:2", "a:3"):
        assert run(store, "prepare", image=image).returncode == 0
    for _ in range(3):
        assert run(store, "snapshot").returncode == 0
    found = metas(store)
    assert sorted(m["kind"] for m in found) == ["manual"] * 2 + ["pre-upgrade"] * 2
    assert sorted(m["image"] for m in found if m["kind"] == "pre-upgrade") == ["a:1", "a:2"]


def test_list_shows_each_snapshot_with_what_it_holds(store):
    make_db(store["data"] / "webui.db")
    assert "no snapshots" in run(store, "list").stdout
    run(store, "prepare")
    run(store, "snapshot")
    lines = run(store, "list").stdout.splitlines()
    assert len(lines) == 2
    assert all("2 users, 3 chats" in line for line in lines)
    assert lines[-1].split()[0].endswith("-pre-upgrade")


def test_usage_and_unknown_modes(store):
    done = run(store, "nonsense")
    assert done.returncode == 2 and "restore NAME" in done.stderr


# --- restore ----------------------------------------------------------------------------------


def test_restore_brings_back_the_snapshot_and_keeps_the_current_data(store):
    db = store["data"] / "webui.db"
    make_db(db, users=2, chats=3)
    run(store, "prepare")
    (old,) = metas(store)
    with closing(sqlite3.connect(db)) as live, live:
        live.execute("INSERT INTO chat VALUES ('later', 'u1', 'written after the snapshot')")
        live.execute("DELETE FROM \"user\" WHERE id = 'u0'")
    before = rows(db)
    done = run(store, "restore", old["name"], image="img:v2")
    assert done.returncode == 0, done.stderr
    assert "restored " + old["name"] in done.stdout
    assert rows(db) == rows(store["backups"] / f"{old['name']}.db")
    (pre_restore,) = [m for m in metas(store) if m["kind"] == "pre-restore"]
    assert rows(store["backups"] / f"{pre_restore['name']}.db") == before
    # The restored data was written by an unrecorded image: the next start snapshots it again.
    assert not (store["data"] / ".icc-ollama-webui-image").exists()


def test_restore_drops_the_old_journal_so_sqlite_cannot_replay_it(store):
    db = store["data"] / "webui.db"
    make_db(db)
    run(store, "prepare")
    (snap,) = metas(store)
    # A writer that holds its connection open leaves rows in webui.db-wal (and -shm).
    live = sqlite3.connect(db)
    live.execute("PRAGMA wal_autocheckpoint=0")
    live.execute("INSERT INTO chat VALUES ('in-wal', 'u0', 'only in the wal')")
    live.commit()
    assert (store["data"] / "webui.db-wal").stat().st_size > 0
    saved_wal = (store["data"] / "webui.db-wal").read_bytes()
    live.close()  # closing checkpoints; put a stale WAL back, as a crash would leave it
    (store["data"] / "webui.db-wal").write_bytes(saved_wal)
    done = run(store, "restore", snap["name"])
    assert done.returncode == 0, done.stderr
    assert not (store["data"] / "webui.db-wal").exists()
    assert rows(db) == rows(store["backups"] / f"{snap['name']}.db")


def test_restore_records_the_image_that_wrote_the_snapshot(store):
    make_db(store["data"] / "webui.db")
    run(store, "prepare", image="img:v1")
    run(store, "snapshot", image="img:v1")
    (manual,) = [m for m in metas(store) if m["kind"] == "manual"]
    assert run(store, "prepare", image="img:v2").returncode == 0
    assert run(store, "restore", manual["name"], image="img:v2").returncode == 0
    # So the newer image's next start takes its pre-upgrade snapshot of the restored data.
    assert (store["data"] / ".icc-ollama-webui-image").read_text() == "img:v1\n"
    assert run(store, "prepare", image="img:v2", ICC_BACKUP_RETENTION="9").returncode == 0
    newest = max(metas(store), key=lambda meta: meta["created"])
    assert (newest["kind"], newest["image"]) == ("pre-upgrade", "img:v1")
    assert rows(store["backups"] / f"{newest['name']}.db") == rows(store["data"] / "webui.db")


def test_restore_of_an_unknown_snapshot_changes_nothing(store):
    make_db(store["data"] / "webui.db")
    before = (store["data"] / "webui.db").read_bytes()
    done = run(store, "restore", "webui-19700101T000000Z-manual")
    assert done.returncode == 1
    assert "no snapshot webui-19700101T000000Z-manual" in done.stderr and "`list`" in done.stderr
    assert (store["data"] / "webui.db").read_bytes() == before
    assert list(store["backups"].iterdir()) == []


def test_restore_over_a_corrupt_database_keeps_the_corrupt_file_aside(store):
    db = store["data"] / "webui.db"
    make_db(db)
    run(store, "prepare")
    (snap,) = metas(store)
    db.write_bytes(b"SQLite format 3\x00" + b"\xff" * 5000)
    done = run(store, "restore", snap["name"])
    assert done.returncode == 0, done.stderr
    assert rows(db) == rows(store["backups"] / f"{snap['name']}.db")
    (aside,) = store["data"].glob("webui.db.before-restore-*")
    assert aside.read_bytes().endswith(b"\xff" * 100)


# --- the copy itself: the backup API, never the file -------------------------------------------


def test_a_file_copy_misses_committed_rows_that_the_backup_api_gets(store):
    """Why the script never copies the file: in WAL mode (Open WebUI's default) committed rows
    can sit in webui.db-wal; a copy of webui.db alone loses them."""
    db = store["data"] / "webui.db"
    make_db(db, chats=1)
    live = sqlite3.connect(db)
    live.execute("PRAGMA wal_autocheckpoint=0")
    live.executemany("INSERT INTO chat VALUES (?, 'u0', 'new')", [(f"n{i}",) for i in range(50)])
    live.commit()
    shutil.copy(db, store["tmp"] / "file-copy.db")
    with closing(sqlite3.connect(store["tmp"] / "file-copy.db")) as copied:
        assert copied.execute("SELECT count(*) FROM chat").fetchone() == (1,)
    assert run(store, "snapshot").returncode == 0
    live.close()
    (snap,) = metas(store)
    assert snap["chats"] == 51
    # The snapshot stands alone: no -wal file belongs to it.
    assert not list(store["backups"].glob("*-wal"))


# --- schedule ----------------------------------------------------------------------------------


def test_the_schedule_makes_up_a_missed_snapshot_at_start_and_stops_on_sigterm(store):
    make_db(store["data"] / "webui.db")
    # The newest scheduled snapshot is two days old: today's time was missed while down.
    old = datetime.now(UTC) - timedelta(days=2)
    name = f"webui-{old:%Y%m%dT%H%M%SZ}-scheduled"
    shutil.copy(store["data"] / "webui.db", store["backups"] / f"{name}.db")
    meta = {"name": name, "kind": "scheduled", "created": old.isoformat(timespec="seconds")}
    (store["backups"] / f"{name}.json").write_text(json.dumps(meta))
    env = {
        "PATH": os.environ["PATH"],
        "ICC_DATA_DIR": str(store["data"]),
        "ICC_BACKUP_DIR": str(store["backups"]),
        "ICC_BACKUP_SCHEDULE": "0 3 * * *",
        "ICC_BACKUP_RETENTION": "5",
        "ICC_BACKUP_READY_FILE": str(store["tmp"] / "ready"),
    }
    loop = subprocess.Popen(
        [sys.executable, str(SCRIPT), "schedule"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while len(metas(store)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (store["tmp"] / "ready").exists()
    finally:
        loop.send_signal(signal.SIGTERM)
        output, _ = loop.communicate(timeout=30)
    assert loop.returncode == 0, output
    assert [m["kind"] for m in metas(store)] == ["scheduled", "scheduled"], output
    assert "next scheduled snapshot at" in output and " 03:00 UTC (keeping 5)" in output


def test_the_schedule_stops_at_once_when_the_store_is_not_writable(store):
    env = {"ICC_BACKUP_SCHEDULE": "@daily", "ICC_BACKUP_DIR": str(store["tmp"] / "missing")}
    done = run(store, "schedule", **env)
    assert done.returncode == 1 and "webui-backup schedule failed" in done.stderr
    assert not (store["tmp"] / "ready").exists()


def test_the_schedule_refuses_what_it_cannot_follow(store):
    done = run(store, "schedule", ICC_BACKUP_SCHEDULE="0 0 31 2 *")
    assert done.returncode == 1 and "never matches a real date" in done.stderr


# --- the schedule's cron fields ----------------------------------------------------------------


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    "spec, after, expected",
    [
        ("30 2 * * *", "2026-12-02T01:00", "2026-12-02T02:30"),
        ("30 2 * * *", "2026-12-02T02:30", "2026-12-03T02:30"),
        ("0 */6 * * *", "2026-12-02T06:00:30", "2026-12-02T12:00"),
        ("@hourly", "2026-12-31T23:59", "2027-01-01T00:00"),
        ("@weekly", "2026-12-02T00:00", "2026-12-06T00:00"),  # Sunday
        ("0 0 * * 7", "2026-12-02T00:00", "2026-12-06T00:00"),  # 7 is Sunday too
        ("15 4 1,15 * *", "2026-12-02T00:00", "2026-12-15T04:15"),
        ("0 0 13 * 5", "2026-12-02T00:00", "2026-12-04T00:00"),  # day OR weekday, as cron
        ("0 0 29 2 *", "2026-03-01T00:00", "2028-02-29T00:00"),
        ("0 9-17/4 * 1-6 1-5", "2026-12-02T10:00", "2027-01-01T09:00"),
    ],
)
def test_next_run_follows_cron(spec, after, expected):
    assert schedule.next_run(schedule.parse_schedule(spec), at(after)) == at(expected)


@pytest.mark.parametrize(
    "spec, words",
    [
        ("0 0 31 2 *", "never matches a real date"),
        ("60 * * * *", "minute '60' is outside 0-59"),
        ("* * * *", "needs five fields"),
        ("x * * * *", "minute 'x' is not a number"),
        ("*/0 * * * *", "minute '*/0' has a step below 1"),
        ("5-1 * * * *", "minute '5-1' is outside"),
        ("0 0 * * 8", "weekday '8' is outside 0-7"),
        ("@yearly", "needs five fields"),
    ],
)
def test_schedules_that_cannot_run_are_refused(spec, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        schedule.parse_schedule(spec)


@settings(max_examples=60, deadline=None)
@given(
    minute=st.sampled_from(["*", "0", "*/15", "5,35", "10-20/5"]),
    hour=st.sampled_from(["*", "3", "*/6", "9-17", "0,12"]),
    day=st.sampled_from(["*", "1", "15", "1-7", "28"]),
    month=st.sampled_from(["*", "2", "1-6", "*/3"]),
    weekday=st.sampled_from(["*", "0", "1-5", "6,7"]),
    start=st.datetimes(datetime(2026, 1, 1), datetime(2030, 1, 1)),
)
def test_next_run_is_the_first_matching_minute(minute, hour, day, month, weekday, start):
    spec = schedule.parse_schedule(f"{minute} {hour} {day} {month} {weekday}")
    after = start.replace(tzinfo=UTC)
    found = schedule.next_run(spec, after)
    assert found is not None and found > after and found.second == 0
    minutes, hours, days, months, weekdays, either = spec

    def matches(t: datetime) -> bool:
        day_ok, weekday_ok = t.day in days, (t.weekday() + 1) % 7 in weekdays
        dated = (day_ok or weekday_ok) if either else (day_ok and weekday_ok)
        return t.minute in minutes and t.hour in hours and t.month in months and dated

    assert matches(found)
    # Nothing earlier matches (checked minute by minute over the last two days before it).
    probe = max(after.replace(second=0, microsecond=0), found - timedelta(days=2))
    while probe < found:
        assert probe <= after or not matches(probe), probe
        probe += timedelta(minutes=1)


def test_the_container_gets_every_module_the_script_imports():
    imported = {
        line.split()[1]
        for line in SCRIPT.read_text().splitlines()
        if line.startswith("from ") and line.split()[1] not in ("__future__",)
    }
    local = {path.stem for path in SCRIPTS if path != SCRIPT}
    assert local <= imported and SCHEDULE_SCRIPT in SCRIPTS
    for name in imported - local:
        assert importlib.util.find_spec(name) is not None, name  # the standard library
