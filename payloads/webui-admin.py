"""Creates the Open WebUI admin account before the server starts (components/webui.py runs it as
`python3 -c` inside the Open WebUI container, from /app/backend, then the image's start.sh).

Reads WEBUI_ADMIN_EMAIL and WEBUI_ADMIN_PASSWORD (and WEBUI_ADMIN_NAME); does nothing once any
user exists, so it runs at every start and changes nothing after the first.
"""

import asyncio
import os
import sys

from open_webui.models.users import Users
from open_webui.utils.auth import create_admin_user


async def main():
    email, password = os.environ["WEBUI_ADMIN_EMAIL"], os.environ["WEBUI_ADMIN_PASSWORD"]
    if await Users.has_users():
        return
    await create_admin_user(email, password, os.environ.get("WEBUI_ADMIN_NAME", "Admin"))
    if not await Users.has_users():
        sys.exit(f"icc-ollama: could not create the admin account {email}; see the log above")
    print(f"icc-ollama: created the admin account {email}", flush=True)


asyncio.run(main())
