#!/bin/sh
# Stand-in for Open WebUI's start.sh: answers /health and /ready on 8080, keeps its data dir in
# use, and says whether the admin password reached the server (the start command unsets it).
mkdir -p /srv/www /app/backend/data
echo '{"status":true}' > /srv/www/health
echo '{"status":true}' > /srv/www/ready
date >> /app/backend/data/starts
if [ -n "${WEBUI_ADMIN_PASSWORD:-}" ]; then echo "start.sh: WEBUI_ADMIN_PASSWORD is set"; else
  echo "start.sh: no WEBUI_ADMIN_PASSWORD in the server's environment"; fi
exec httpd -f -p 8080 -h /srv/www
