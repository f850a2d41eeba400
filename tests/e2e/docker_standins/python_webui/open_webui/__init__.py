"""Stand-in for the `open_webui` package in the Docker engine tier's Python image: importing it
"migrates" webui.db as the real package's import of its config does (Alembic at import time),
recording this image's version (STANDIN_VERSION) once per version, in order."""

import os
import sqlite3
import time

DATA_DIR = os.environ.get("DATA_DIR", "/app/backend/data")
DATABASE = os.path.join(DATA_DIR, "webui.db")
VERSION = os.environ["STANDIN_VERSION"]


def migrate() -> None:
    os.makedirs(DATA_DIR, exist_ok=True)
    db = sqlite3.connect(DATABASE, timeout=30)
    try:
        db.execute("PRAGMA journal_mode=WAL")  # as Open WebUI keeps it
        db.execute('CREATE TABLE IF NOT EXISTS "user" (id TEXT PRIMARY KEY, email TEXT)')
        db.execute(
            "CREATE TABLE IF NOT EXISTS chat (id TEXT PRIMARY KEY, user_id TEXT, title TEXT)"
        )
        db.execute("CREATE TABLE IF NOT EXISTS standin_migrations (version TEXT, at REAL)")
        last = db.execute(
            "SELECT version FROM standin_migrations ORDER BY rowid DESC LIMIT 1"
        ).fetchone()
        if last is None or last[0] != VERSION:
            db.execute("INSERT INTO standin_migrations VALUES (?, ?)", (VERSION, time.time()))
            print(f"stand-in Open WebUI {VERSION}: migrated webui.db", flush=True)
        db.commit()
    finally:
        db.close()


migrate()
