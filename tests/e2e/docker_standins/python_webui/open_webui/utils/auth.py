"""Stand-in: `create_admin_user`, the call payloads/webui-admin.py makes."""

import sqlite3

from open_webui import DATABASE


async def create_admin_user(email: str, password: str, name: str = "Admin") -> None:
    db = sqlite3.connect(DATABASE, timeout=30)
    try:
        with db:
            db.execute('INSERT INTO "user" VALUES (?, ?)', ("admin", email))
    finally:
        db.close()
