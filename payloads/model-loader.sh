#!/bin/sh
# Keeps the models of one Ollama replica present, visibly: every step is logged to stdout
# (`kubectl logs <pod> -c model-loader`), failed pulls are retried with back-off, and the loop
# re-checks every RECHECK_SECONDS so a deleted or new model is pulled again.
#
#   model-loader.sh          run the loop (sidecar container)
#   model-loader.sh check    exit 0 only if every model is present (readiness probe)
#   model-loader.sh alive    exit 0 while the loop makes progress (liveness probe): it touched
#                            its heartbeat, or a running pull wrote progress, in the last
#                            ALIVE_SECONDS (default 900, more than the longest sleep)
#
# Environment: OLLAMA_MODELS_WANTED (space-separated names), RECHECK_SECONDS (default 300),
# MAX_BACKOFF_SECONDS (default 300), ONESHOT=1 to stop after one pass (tests).
set -u

models="${OLLAMA_MODELS_WANTED:-}"
state_dir="${TMPDIR:-/tmp}"
heartbeat="$state_dir/model-loader.heartbeat"

present() {
  ollama show "$1" >/dev/null 2>&1
}

if [ "${1:-}" = "check" ]; then
  for model in $models; do
    present "$model" || exit 1
  done
  exit 0
fi

# A hung `ollama list` or `ollama show` (a server that accepts but never answers) stops the loop
# without ending it; no heartbeat and no progress for ALIVE_SECONDS lets the kubelet restart it.
if [ "${1:-}" = "alive" ]; then
  minutes=$(( (${ALIVE_SECONDS:-900} + 59) / 60 ))
  recent=$(find "$heartbeat" "$state_dir"/model-loader-progress.* -mmin "-$minutes" 2>/dev/null)
  [ -n "$recent" ]
  exit
fi

beat() {
  : >"$heartbeat"
}

log() {
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) model-loader: $*"
}

beat
until ollama list >/dev/null 2>&1; do
  log "waiting for the Ollama server"
  beat
  sleep 2
done

# `ollama pull` redraws its progress bars with terminal escape codes on stderr every 100 ms,
# whether or not stderr is a terminal (Ollama v0.32.15 progress/progress.go:111-156), so they go to
# a file and the log gets one line per pull: the last thing ollama printed, escapes removed.
progress_file="$state_dir/model-loader-progress.$$"

last_progress_line() {
  awk '{ gsub(/\033\[[0-9;?]*[A-Za-z]/, "\n"); print }' "$progress_file" 2>/dev/null |
    grep -v '^[[:space:]]*$' | tail -n 1
}

pull_once() {
  ollama pull "$1" >"$progress_file" 2>&1
  status=$?
  outcome=$(last_progress_line)
  rm -f "$progress_file"
  return "$status"
}

# `ollama pull` exits 0 when the server's stream simply ends, e.g. because the server restarted
# mid-pull (Ollama v0.32.15 api/client.go:216-258): only the model being present counts.
pull_with_retry() {
  attempt=1
  delay=5
  while :; do
    if pull_once "$1"; then
      present "$1" && break
      reason="ended without the model (the stream stopped early; last output: ${outcome:-none})"
    else
      reason="failed: ${outcome:-no output}"
    fi
    log "pull of $1 $reason (attempt $attempt); retrying in ${delay}s"
    beat
    sleep "$delay"
    attempt=$((attempt + 1))
    delay=$((delay * 2))
    [ "$delay" -gt "${MAX_BACKOFF_SECONDS:-300}" ] && delay="${MAX_BACKOFF_SECONDS:-300}"
  done
  log "pulled $1 after $attempt attempt(s): ${outcome:-done}"
}

while :; do
  for model in $models; do
    beat
    if present "$model"; then
      continue
    fi
    log "pulling $model (progress is not logged; a large model takes minutes)"
    pull_with_retry "$model"
  done
  log "all models present: $models"
  beat
  [ "${ONESHOT:-0}" = "1" ] && exit 0
  sleep "${RECHECK_SECONDS:-300}"
done
