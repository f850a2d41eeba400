#!/usr/bin/env bash
# Runs a Pulumi command on a stack with local state (file://) and a passphrase: no Pulumi Cloud.
#   scripts/up.sh <stack> <up|preview|destroy>
set -euo pipefail
stack="${1:?usage: scripts/up.sh <stack> <up|preview|destroy>}"
action="${2:-up}"
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

home="${ICC_OLLAMA_HOME:-$HOME/.icc-ollama}"
mkdir -p "$home/state"
chmod 700 "$home"
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$home/state}"
export PULUMI_SKIP_UPDATE_CHECK=true
if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  # One passphrase per machine, made on first use; keep a copy: it decrypts your stack secrets.
  if [ ! -f "$home/passphrase" ]; then
    (umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(32))' > "$home/passphrase")
    echo "Created the stack passphrase in $home/passphrase (back it up)."
  fi
  export PULUMI_CONFIG_PASSPHRASE_FILE="$home/passphrase"
fi

pulumi stack select --create --secrets-provider passphrase "$stack"
# Open WebUI signs logins with this key; it must stay the same across updates.
if ! pulumi config get webuiSecretKey >/dev/null 2>&1; then
  python3 -c 'import secrets; print(secrets.token_hex(32))' | pulumi config set --secret webuiSecretKey
  echo "Generated webuiSecretKey (a Pulumi secret in Pulumi.${stack}.yaml)."
fi
# Grafana's admin password (used when monitoring.enabled); no default password ever exists.
if [ "$stack" != docker ] && ! pulumi config get grafanaAdminPassword >/dev/null 2>&1; then
  python3 -c 'import secrets; print(secrets.token_urlsafe(24))' | pulumi config set --secret grafanaAdminPassword
  echo "Generated grafanaAdminPassword (read it with: pulumi config get grafanaAdminPassword -s ${stack})."
fi

python3 scripts/recover.py "$stack" "$action"  # stale lock, pending creates of an interrupted run
case "$action" in
  up) pulumi up --stack "$stack" ;;
  preview) pulumi preview --stack "$stack" --diff ;;
  destroy) pulumi destroy --stack "$stack" ;;
  *) echo "unknown action $action (up, preview, destroy)" >&2; exit 2 ;;
esac
