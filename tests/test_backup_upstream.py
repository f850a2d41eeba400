"""The backup script on a real webui.db: made by the pinned Open WebUI package's own Alembic
migrations (the `open-webui` wheel from PyPI, as tests/test_upstream_contract.py reads it), with
accounts and chats in it; snapshots taken while another connection writes; restores that pass
`PRAGMA integrity_check` and hold the same rows; an older snapshot migrated again by the package.

The migrations run as Open WebUI runs them at start (its `run_migrations`: Alembic `upgrade head`
with the package's alembic.ini and migrations folder), in a virtualenv outside the repository
(~/.cache/icc-ollama-upstream/migrations-<version>/) holding the wheel and only the libraries
the migrations import, at the versions the wheel pins. Without network access the tests are
skipped and say so. Nothing here depends on the exact version: it is the one `webui.image` pins.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import zipfile
from contextlib import closing
from pathlib import Path

import pytest
from test_backup_payload import metas, rows, run

from settings.webui import WebUi

pytestmark = pytest.mark.slow

CACHE = Path(
    os.environ.get("ICC_OLLAMA_UPSTREAM_CACHE", Path.home() / ".cache" / "icc-ollama-upstream")
)
# What `open_webui.migrations.env` imports (open_webui.env, internal.db, models.auths/chats/...),
# by distribution name; versions come from the wheel's own pins where it has one. A module a
# later version adds is installed when a first migration run misses it (IMPORT_NAMES: import
# names that differ from their distribution's).
MIGRATION_DEPENDENCIES = (
    "sqlalchemy",
    "alembic",
    "aiosqlite",
    "pydantic",
    "markdown",
    "beautifulsoup4",
    "cryptography",
    "bcrypt",
    "aiohttp",
    "python-mimeparse",
    "python-socketio",
    "uvicorn",
    "typer",
)
IMPORT_NAMES = {
    "bs4": "beautifulsoup4",
    "engineio": "python-socketio",
    "socketio": "python-socketio",
    "mimeparse": "python-mimeparse",
    "jwt": "pyjwt",
    "yaml": "pyyaml",
    "dotenv": "python-dotenv",
    "PIL": "pillow",
}
MIGRATE = """
import sys
from pathlib import Path
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
import importlib.util
package = Path(importlib.util.find_spec("open_webui").submodule_search_locations[0])
config = Config(str(package / "alembic.ini"))
config.set_main_option("script_location", str(package / "migrations"))
if sys.argv[1] == "revisions":
    walk = ScriptDirectory.from_config(config).walk_revisions()
    print("revisions:", *(revision.revision for revision in walk))
else:
    command.upgrade(config, sys.argv[1])
"""


def version() -> str:
    """The pinned version; ICC_OLLAMA_BACKUP_UPSTREAM_VERSION tries another before a bump."""
    pinned = WebUi.model_fields["image"].default.rsplit(":v", 1)[1]
    return os.environ.get("ICC_OLLAMA_BACKUP_UPSTREAM_VERSION", pinned)


def pip(*args: str, python: str = sys.executable) -> subprocess.CompletedProcess:
    return subprocess.run(
        [python, "-m", "pip", *args, "--quiet", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        timeout=1800,
    )


def skip_offline(what: str, done: subprocess.CompletedProcess) -> None:
    pytest.skip(
        f"{what} failed, so backups are NOT checked against the real Open WebUI "
        f"{version()} database: {done.stderr.strip()[-300:]}"
    )


@pytest.fixture(scope="module")
def open_webui() -> Path:
    """The python of a virtualenv that can run the pinned package's migrations."""
    venv = CACHE / f"migrations-{version()}"
    python = venv / "bin" / "python"
    if (venv / "ready").exists():
        return python
    wheel = CACHE / f"open_webui-{version()}-py3-none-any.whl"
    if not wheel.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        done = pip("download", "--no-deps", "-d", str(CACHE), f"open-webui=={version()}")
        if done.returncode != 0 or not wheel.exists():
            skip_offline(f"pip download open-webui=={version()}", done)
    with zipfile.ZipFile(wheel) as archive:
        meta = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        pins = dict(
            re.findall(
                r"^Requires-Dist: ([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s;]+)\s*$",
                archive.read(meta).decode(),
                re.M,
            )
        )
    pinned = {name.lower(): value for name, value in pins.items()}

    def install(*names: str) -> None:
        wanted = [f"{name}=={pinned[name]}" if name in pinned else name for name in names]
        done = pip("install", *wanted, python=str(python))
        if done.returncode != 0:
            skip_offline(f"pip install {' '.join(wanted)}", done)

    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    done = pip("install", "--no-deps", str(wheel), python=str(python))
    if done.returncode != 0:
        skip_offline(f"pip install {wheel.name}", done)
    install(*MIGRATION_DEPENDENCIES)
    scratch = venv / "probe"
    for _ in range(20):  # a module this version imports beyond the list
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir()
        missing = re.search(r"No module named '([^'.]+)", migrate(python, scratch, check=False))
        if missing is None:
            break
        name = IMPORT_NAMES.get(missing.group(1), missing.group(1)).lower()
        done = pip(
            "install", f"{name}=={pinned[name]}" if name in pinned else name, python=str(python)
        )
        assert done.returncode == 0, (
            f"Open WebUI {version()}'s migrations import {missing.group(1)!r}; installing {name!r} "
            f"failed (add its distribution to IMPORT_NAMES): {done.stderr.strip()[-300:]}"
        )
    migrate(python, scratch)  # they run now, or the test fails with their error
    shutil.rmtree(scratch)
    (venv / "ready").write_text("the migrations ran\n")  # later sessions reuse it
    return python


def migrate(python: Path, data: Path, revision: str = "head", check: bool = True) -> str:
    """Open WebUI's own migrations on data/webui.db, as its start runs them; the output."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(data.parent),
        "DATA_DIR": str(data),
        "DATABASE_URL": f"sqlite:///{data}/webui.db",
        "WEBUI_SECRET_KEY": "backup-test-key",  # read at import; nothing is signed here
    }
    done = subprocess.run(
        [str(python), "-c", MIGRATE, revision],
        env=env,
        cwd=data,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check:
        assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout + done.stderr


def revisions(python: Path, data: Path) -> list[str]:
    """Every Alembic revision of the package, newest first."""
    (line,) = [
        x for x in migrate(python, data, "revisions").splitlines() if x.startswith("revisions:")
    ]
    return line.split()[1:]


def schema(db: Path) -> str:
    with closing(sqlite3.connect(db)) as connection:
        return connection.execute("SELECT version_num FROM alembic_version").fetchone()[0]


def seed(db: Path, prefix: str, users: int, chats: int) -> None:
    """Accounts and chats, as Open WebUI keeps them (WAL mode: its default)."""
    now = int(time.time())
    with closing(sqlite3.connect(db)) as connection, connection:
        connection.execute("PRAGMA journal_mode=WAL")
        for i in range(users):
            user = f"{prefix}-user-{i}"
            connection.execute(
                'INSERT INTO "user" (id, name, email, role, created_at, updated_at, '
                "last_active_at) VALUES (?, ?, ?, 'user', ?, ?, ?)",
                (user, f"Student {i}", f"{user}@haw-hamburg.de", now, now, now),
            )
            connection.execute(
                "INSERT INTO auth (id, email, password, active) VALUES (?, ?, 'hash', 1)",
                (user, f"{user}@haw-hamburg.de"),
            )
        for i in range(chats):
            connection.execute(
                "INSERT INTO chat (id, user_id, title, chat, created_at, updated_at, archived) "
                "VALUES (?, ?, ?, ?, ?, ?, 0)",
                (f"{prefix}-chat-{i}", f"{prefix}-user-{i % users}", f"Chat {i}", "{}", now, now),
            )


def accounts(db: Path) -> tuple[list, list, list]:
    users, chats = rows(db)  # also asserts PRAGMA integrity_check == ok
    with closing(sqlite3.connect(db)) as connection:
        auth = connection.execute("SELECT id, email FROM auth ORDER BY id").fetchall()
    return users, chats, auth


@pytest.fixture(scope="module")
def migrated(open_webui, tmp_path_factory) -> Path:
    """A webui.db as the pinned Open WebUI's migrations make it on a new volume (made once)."""
    data = tmp_path_factory.mktemp("migrated")
    migrate(open_webui, data)
    return data / "webui.db"


@pytest.fixture
def live(migrated, store) -> Path:
    shutil.copy(migrated, store["data"] / "webui.db")  # no connection is open on it
    return store["data"] / "webui.db"


def test_a_snapshot_of_a_real_database_restores_its_accounts_and_chats(open_webui, live, store):
    seed(live, "a", users=3, chats=7)
    kept = accounts(live)
    assert run(store, "prepare").returncode == 0  # first start with backups: a snapshot
    (snap,) = metas(store)
    assert (snap["users"], snap["chats"], snap["schema"]) == (3, 7, schema(live))
    # Mistakes: an admin deletes accounts and chats.
    with closing(sqlite3.connect(live)) as connection, connection:
        connection.execute("DELETE FROM chat")
        connection.execute('DELETE FROM "user" WHERE id != ?', ("a-user-0",))
    done = run(store, "restore", snap["name"])
    assert done.returncode == 0, done.stderr
    assert accounts(live) == kept
    # The next start runs the migrations again: nothing to do, nothing breaks.
    migrate(open_webui, store["data"])
    assert accounts(live) == kept


@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_snapshots_taken_while_another_connection_writes_are_consistent(live, store, journal):
    seed(live, "w", users=1, chats=1)
    with closing(sqlite3.connect(live)) as connection:
        connection.execute(f"PRAGMA journal_mode={journal}")
    stop, written = threading.Event(), []

    def writer() -> None:
        """Each transaction adds a chat and records the count on the user: a snapshot holds
        both or neither."""
        with closing(sqlite3.connect(live, timeout=30)) as connection:
            n = 0
            while not stop.is_set():
                n += 1
                with connection:
                    connection.execute(
                        "INSERT INTO chat (id, user_id, title, chat, created_at, updated_at, "
                        "archived) VALUES (?, 'w-user-0', 'live', '{}', 0, 0, 0)",
                        (f"live-{n}",),
                    )
                    connection.execute(
                        'UPDATE "user" SET last_active_at = ? WHERE id = ?', (n, "w-user-0")
                    )
                written.append(n)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        counts = []
        for _ in range(5):
            while len(written) < (counts[-1] if counts else 0) + 20:
                time.sleep(0.01)
            assert run(store, "snapshot", ICC_BACKUP_RETENTION="10").returncode == 0
            newest = max(metas(store), key=lambda meta: meta["created"])
            with closing(sqlite3.connect(store["backups"] / f"{newest['name']}.db")) as snap:
                assert snap.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
                live_chats = snap.execute(
                    "SELECT count(*) FROM chat WHERE title = 'live'"
                ).fetchone()[0]
                stamp = snap.execute(
                    'SELECT last_active_at FROM "user" WHERE id = ?', ("w-user-0",)
                ).fetchone()[0]
            assert live_chats == stamp  # one committed state, never half a transaction
            counts.append(live_chats)
    finally:
        stop.set()
        thread.join()
    assert counts == sorted(counts) and counts[-1] > counts[0] > 0
    # The last snapshot restores to exactly what it holds.
    newest = max(metas(store), key=lambda meta: meta["created"])
    assert run(store, "restore", newest["name"]).returncode == 0
    assert rows(live) == rows(store["backups"] / f"{newest['name']}.db")


def test_an_older_snapshot_restored_under_a_newer_version_is_migrated_again(open_webui, store):
    data = store["data"]
    newest_first = revisions(open_webui, data)
    older = newest_first[5]  # five migrations before the pinned version's head
    migrate(open_webui, data, older)  # the data as an older Open WebUI left it
    db = data / "webui.db"
    seed(db, "old", users=2, chats=4)
    kept = accounts(db)
    assert run(store, "prepare", image="open-webui:old").returncode == 0
    # The new image's first start: the pre-upgrade snapshot, then its migrations.
    assert run(store, "prepare", image="open-webui:new").returncode == 0
    upgrade = [m for m in metas(store) if m["kind"] == "pre-upgrade"][-1]
    assert (upgrade["schema"], upgrade["image"]) == (older, "open-webui:old")
    log = migrate(open_webui, data)
    assert "Running upgrade" in log and schema(db) == newest_first[0]
    seed(db, "new", users=1, chats=1)
    # Back to the snapshot from before the upgrade, under the new version.
    assert run(store, "restore", upgrade["name"], image="open-webui:new").returncode == 0
    assert schema(db) == older and accounts(db) == kept
    assert (data / ".icc-ollama-webui-image").read_text() == "open-webui:old\n"
    # Its next start: another pre-upgrade snapshot, then the migrations run on the restored copy.
    assert run(store, "prepare", image="open-webui:new").returncode == 0
    log = migrate(open_webui, data)
    assert f"Running upgrade {older} ->" in log
    assert schema(db) == newest_first[0] and accounts(db) == kept
