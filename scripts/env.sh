# Source this to use the bare `pulumi` CLI on the stacks that `make up` made:  . scripts/env.sh
# It exports the local backend and the passphrase (nothing else), e.g. for
#   pulumi stack output --show-secrets -s icc       pulumi stack history -s icc
# Commands that read settings also need your own file: --config-file "$ICC_OLLAMA_STACKS/icc.yaml"
# (or use `make config-get/config-set`, which also see the shared Pulumi.<stack>.yaml).
icc_ollama_home="${ICC_OLLAMA_HOME:-$HOME/.icc-ollama}"
export PULUMI_BACKEND_URL="file://$icc_ollama_home/state"
export PULUMI_CONFIG_PASSPHRASE_FILE="$icc_ollama_home/passphrase"
export PULUMI_SKIP_UPDATE_CHECK=true
export ICC_OLLAMA_STACKS="$icc_ollama_home/stacks"
unset icc_ollama_home
