#!/bin/sh
# Stand-in for Open WebUI's start.sh in the Python stand-in image.
exec python3 /app/backend/standin_server.py
