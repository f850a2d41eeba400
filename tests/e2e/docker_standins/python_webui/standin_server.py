"""Stand-in for Open WebUI's server: migrates at import (open_webui), then answers /health and
/ready on 8080 like the real one, and says whether the admin password reached it."""

import http.server
import os

import open_webui


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the name http.server calls)
        found = self.path in ("/health", "/ready")
        self.send_response(200 if found else 404)
        self.end_headers()
        self.wfile.write(b'{"status":true}' if found else b"")

    def log_message(self, *args):
        pass


if os.environ.get("WEBUI_ADMIN_PASSWORD"):
    print("start.sh: WEBUI_ADMIN_PASSWORD is set", flush=True)
else:
    print("start.sh: no WEBUI_ADMIN_PASSWORD in the server's environment", flush=True)
print(f"stand-in Open WebUI {open_webui.VERSION}: serving on 8080", flush=True)
http.server.ThreadingHTTPServer(("", 8080), Handler).serve_forever()
