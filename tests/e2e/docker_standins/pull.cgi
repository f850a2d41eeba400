#!/bin/sh
# A "pull": the model becomes a file in the models volume, so `ollama show` finds it afterwards.
echo "$QUERY_STRING" | grep -Eq '^[A-Za-z0-9._-]+$' || { printf 'Status: 400\r\n\r\n'; exit 0; }
date > "/root/.ollama/models/$QUERY_STRING"
printf 'Content-Type: text/plain\r\n\r\nok\n'
