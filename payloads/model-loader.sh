#!/bin/sh
# Keeps the models of one Ollama replica present, visibly: every step is logged to stdout
# (`kubectl logs <pod> -c model-loader`), failed pulls are retried with back-off, and the loop
# re-checks every RECHECK_SECONDS so a deleted or new model is pulled again.
#
#   model-loader.sh          run the loop (sidecar container)
#   model-loader.sh check    exit 0 only if every model is present (readiness probe)
#
# Environment: OLLAMA_MODELS_WANTED (space-separated names), RECHECK_SECONDS (default 300),
# MAX_BACKOFF_SECONDS (default 300), ONESHOT=1 to stop after one pass (tests).
set -u

models="${OLLAMA_MODELS_WANTED:-}"

present() {
  ollama show "$1" >/dev/null 2>&1
}

if [ "${1:-}" = "check" ]; then
  for model in $models; do
    present "$model" || exit 1
  done
  exit 0
fi

log() {
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) model-loader: $*"
}

until ollama list >/dev/null 2>&1; do
  log "waiting for the Ollama server"
  sleep 2
done

pull_with_retry() {
  attempt=1
  delay=5
  until ollama pull "$1"; do
    log "pull of $1 failed (attempt $attempt); retrying in ${delay}s"
    sleep "$delay"
    attempt=$((attempt + 1))
    delay=$((delay * 2))
    [ "$delay" -gt "${MAX_BACKOFF_SECONDS:-300}" ] && delay="${MAX_BACKOFF_SECONDS:-300}"
  done
  log "pulled $1 after $attempt attempt(s)"
}

while :; do
  for model in $models; do
    if present "$model"; then
      continue
    fi
    log "pulling $model"
    pull_with_retry "$model"
  done
  log "all models present: $models"
  [ "${ONESHOT:-0}" = "1" ] && exit 0
  sleep "${RECHECK_SECONDS:-300}"
done
