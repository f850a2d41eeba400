#!/bin/sh
# Stand-in for Open WebUI's start.sh: answers /health on 8080 and keeps its data dir in use.
mkdir -p /srv/www /app/backend/data
echo '{"status":true}' > /srv/www/health
date >> /app/backend/data/starts
exec httpd -f -p 8080 -h /srv/www
