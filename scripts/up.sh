#!/usr/bin/env bash
# Runs a Pulumi command on a stack with local state (file://) and a passphrase: no Pulumi Cloud.
#   scripts/up.sh <stack> <up|preview|destroy|config|config-get|config-set|config-rm|output> [args]
# The tracked Pulumi.<stack>.yaml holds the team's defaults. Your own values (the passphrase
# salt, generated secrets, namespace, overrides) live in ~/.icc-ollama/stacks/<stack>.yaml. Each
# run merges the two into a temporary file for --config-file, so nothing of yours reaches git.
# `preview` changes nothing: it works on copies, and on a throw-away stack if yours is not made yet.
set -euo pipefail
actions="up|preview|review|destroy|config|config-get|config-set|config-rm|output"
usage="usage: scripts/up.sh <stack> <$actions> [args]"
stack="${1:?$usage}"
action="${2:-up}"
shift $(($# < 2 ? $# : 2))
cd "$(dirname "$0")/.."

if ! command -v pulumi >/dev/null 2>&1; then
  echo "The Pulumi CLI is missing. Install it with:  curl -fsSL https://get.pulumi.com | sh" >&2
  echo "then open a new shell (it adds ~/.pulumi/bin to PATH) and run this again." >&2
  exit 1
fi
if [ ! -f "Pulumi.${stack}.yaml" ]; then
  echo "No Pulumi.${stack}.yaml here; the stacks are: $(ls Pulumi.*.yaml | sed 's/Pulumi\.\(.*\)\.yaml/\1/' | xargs)" >&2
  exit 1
fi
py=.venv/bin/python
if [ ! -x "$py" ]; then
  echo "No $py yet: run \`make install\` (or use \`make $action STACK=$stack\`)." >&2
  exit 1
fi

home="${ICC_OLLAMA_HOME:-$HOME/.icc-ollama}"
shared="Pulumi.${stack}.yaml"
own="$home/stacks/${stack}.yaml"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
merged="$work/Pulumi.${stack}.yaml"
export PULUMI_SKIP_UPDATE_CHECK=true
# A lost own file gets its salt back from the state (pulumi >= 3.134.0, stack/secrets.go:258).
export PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER=true

use_home() {  # exports only; creates nothing
  export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$home/state}"
  if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
    export PULUMI_CONFIG_PASSPHRASE_FILE="$home/passphrase"
  fi
}

make_home() {
  mkdir -p "$home/state" "$home/stacks"
  chmod 700 "$home"
  # One passphrase per machine, made on first use; keep a copy: it decrypts your stack secrets.
  local file="${PULUMI_CONFIG_PASSPHRASE_FILE:-}"
  if [ "$file" = "$home/passphrase" ] && [ ! -f "$file" ]; then
    (umask 077 && "$py" -c 'import secrets; print(secrets.token_urlsafe(32))' > "$file")
    echo "Created the stack passphrase in $file (back it up)."
  fi
}

use_scratch() {  # a throw-away home in $work, for previewing a stack that does not exist yet
  export PULUMI_BACKEND_URL="file://$work/state"
  export PULUMI_CONFIG_PASSPHRASE_FILE="$work/passphrase"
  unset PULUMI_CONFIG_PASSPHRASE
  mkdir -p "$work/state"
  "$py" -c 'import secrets; print(secrets.token_urlsafe(32))' > "$work/passphrase"
  "$py" scripts/stack_config.py strip-secrets "$own" "$work/own.yaml"
  own="$work/own.yaml"
  echo "Stack $stack does not exist yet: previewing a throw-away copy with throw-away secrets;"
  echo "\`make up STACK=$stack\` creates the real one."
}

stack_exists() {
  if [ "$PULUMI_BACKEND_URL" = "file://$home/state" ] && [ ! -d "$home/state" ]; then
    return 1
  fi
  pulumi stack --stack "$stack" --show-name >/dev/null 2>&1
}

create_stack() {
  # `pulumi stack init` writes the salt into Pulumi.<stack>.yaml next to Pulumi.yaml and has no
  # --config-file (stack/stack_new.go:205), so it runs in a scratch project whose stack file is
  # (a copy of) the user's own; a salt already there is kept.
  mkdir -p "$work/init"
  cp Pulumi.yaml "$work/init/"
  if [ -f "$own" ]; then cp "$own" "$work/init/Pulumi.${stack}.yaml"; fi
  (cd "$work/init" && pulumi stack init --secrets-provider passphrase --no-select "$stack")
  mkdir -p "$(dirname "$own")"
  install -m 600 "$work/init/Pulumi.${stack}.yaml" "$own"
}

ensure_secret() {  # <key> <python expression>: generated once, never printed
  if ! pulumi config get --stack "$stack" --config-file "$own" "$1" >/dev/null 2>&1; then
    "$py" -c "import secrets; print($2)" |
      pulumi config set --secret --stack "$stack" --config-file "$own" "$1" >/dev/null
    if [ "$action" = preview ]; then
      echo "Using a throw-away $1 for this preview; \`make up STACK=$stack\` generates yours."
    else
      echo "Generated $1 (read it with: make config-get STACK=$stack KEY=$1)."
    fi
  fi
}

merge() {
  "$py" scripts/stack_config.py merge "$shared" "$own" "$merged"
}

ensure_secrets() {
  ensure_secret webuiSecretKey 'secrets.token_hex(32)'      # signs Open WebUI logins; stays stable
  ensure_secret webuiAdminPassword 'secrets.token_urlsafe(24)'  # the Open WebUI admin account
  merge
  if [ "$("$py" scripts/stack_config.py monitoring "$merged")" = true ]; then
    ensure_secret grafanaAdminPassword 'secrets.token_urlsafe(24)'  # Grafana's admin account
    merge
  fi
}

refuse_shared_secrets() {  # a salt or secret in the tracked file would reach everyone who pulls
  local found
  found="$("$py" scripts/stack_config.py shared-secrets "$shared")"
  [ -z "$found" ] && return 0
  if [ "$action" != preview ] && [ ! -f "$own" ]; then
    mkdir -p "$(dirname "$own")"
    install -m 600 "$shared" "$own"
    echo "Moved your values ($found) from $shared to $own;"
    echo "restore the shared file with:  git checkout -- $shared"
    return 0
  fi
  if [ ! -f "$own" ]; then
    echo "$shared holds $found, your own values: \`make up STACK=$stack\` moves them to $own." >&2
  else
    echo "$shared holds $found, which belong in $own: restore the shared file with" \
      "\`git checkout -- $shared\` and set your values with" \
      "\`make config-set STACK=$stack KEY=<key>\`" >&2
  fi
  exit 1
}

open_stack() {  # the user's stack, made on first use
  make_home
  refuse_shared_secrets
  stack_exists || create_stack
}

open_copy() {  # for preview: a copy of the user's values, or a throw-away stack
  refuse_shared_secrets
  if stack_exists; then
    if [ -f "$own" ]; then cp "$own" "$work/own.yaml"; fi
    own="$work/own.yaml"
  else
    use_scratch
    create_stack >/dev/null
  fi
}

use_home
case "$action" in
  up) open_stack; ensure_secrets ;;
  preview|review) open_copy; ensure_secrets ;;
  destroy|config|config-get|config-set|config-rm) open_stack; merge ;;
  output) ;;  # reads the state only
  *) echo "$usage" >&2; exit 2 ;;
esac
# An interrupted run left a stale lock or pending creates: clear and adopt them (scripts/recover.py;
# a preview only clears a stale lock and says what `up` will adopt).
case "$action" in
  up|preview|review|destroy) "$py" scripts/recover.py "$stack" "$action" ;;
esac
# The ICC rules (policy/) run in every preview and up; their facts come from the validated
# settings, written to the scratch folder (a preview leaves nothing behind).
# ICC_OLLAMA_POLICY_PACK names another pack (a folder or an executable analyzer); empty skips it
# (the real-engine tests only: CONTRIBUTING.md).
pack_dir="${ICC_OLLAMA_POLICY_PACK-policy}"
policy=()
if [ -z "$pack_dir" ]; then
  echo "Policy pack skipped: ICC_OLLAMA_POLICY_PACK is empty." >&2
elif [ "$action" = up ] || [ "$action" = preview ] || [ "$action" = review ]; then
  pack="$work/policy-config.json"
  "$py" scripts/policy_config.py "$stack" --config-file "$merged" --out "$pack" >/dev/null
  policy=(--policy-pack "$pack_dir" --policy-pack-config "$pack")
fi
# What only the Docker Engine knows (version, CPUs) is checked before anything is created.
if [ "$stack" = docker ] && { [ "$action" = up ] || [ "$action" = preview ]; }; then
  "$py" scripts/docker_preflight.py "$stack" --config-file "$merged"
fi
case "$action" in
  up) pulumi up --stack "$stack" --config-file "$merged" ${policy[@]+"${policy[@]}"} "$@" ;;
  preview) pulumi preview --stack "$stack" --config-file "$merged" --diff ${policy[@]+"${policy[@]}"} "$@" ;;
  review) "$py" scripts/review.py "$stack" --config-file "$merged" ${policy[@]+"${policy[@]}"} "$@" ;;
  destroy) pulumi destroy --stack "$stack" --config-file "$merged" "$@" ;;
  config) pulumi config --stack "$stack" --config-file "$merged" "$@" ;;
  config-get) pulumi config get --path --stack "$stack" --config-file "$merged" "$@" ;;
  config-set) pulumi config set --path --stack "$stack" --config-file "$own" "$@" ;;
  config-rm) pulumi config rm --path --stack "$stack" --config-file "$own" "$@" ;;
  output) pulumi stack output --stack "$stack" "$@" ;;
esac
