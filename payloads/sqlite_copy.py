"""One consistent, checked copy of a SQLite database, through SQLite's online backup API.

Used by payloads/webui-backup.py for snapshots and restores (the standard library only: it runs
in the Open WebUI image).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


class CopyFailed(Exception):
    """The copy is not a sound database."""


def facts(connection: sqlite3.Connection) -> dict:
    """What a listing shows: the Alembic revision, accounts and chats (None if no such table)."""
    found = {}
    for key, query in (
        ("schema", "SELECT version_num FROM alembic_version"),
        ("users", 'SELECT count(*) FROM "user"'),
        ("chats", "SELECT count(*) FROM chat"),
    ):
        try:
            found[key] = connection.execute(query).fetchone()[0]
        except sqlite3.Error:
            found[key] = None
    return found


def copy_database(source_path: Path, target: Path) -> dict:
    """The backup API from source into target (a new file), then integrity_check on the copy."""
    source = sqlite3.connect(f"file:{source_path}?mode=rw", uri=True, timeout=60)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)  # one step: one read transaction, so one consistent state
        copy.execute("PRAGMA journal_mode=DELETE")  # self-contained: no -wal file to go with it
        check = [row[0] for row in copy.execute("PRAGMA integrity_check")]
        if check != ["ok"]:
            raise CopyFailed(f"the copy fails PRAGMA integrity_check: {'; '.join(check[:3])}")
        return facts(copy)
    finally:
        copy.close()
        source.close()
