"""Stand-in: `Users.has_users`, the call payloads/webui-admin.py makes."""

import sqlite3

from open_webui import DATABASE


class _Users:
    async def has_users(self) -> bool:
        db = sqlite3.connect(DATABASE, timeout=30)
        try:
            return db.execute('SELECT count(*) FROM "user"').fetchone()[0] > 0
        finally:
            db.close()


Users = _Users()
