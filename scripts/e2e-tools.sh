#!/usr/bin/env bash
# Build the real-engine test tools from the Go module proxy only, into a cache folder outside the
# repository, keyed by versions:  ~/.cache/icc-ollama-e2e/<key>/bin
#
#   scripts/e2e-tools.sh            build what is missing (a warm run takes seconds), print the bin dir
#   scripts/e2e-tools.sh --print    only print the bin dir (no build)
#   scripts/e2e-tools.sh --check    exit 0 only if every required tool is already built
#
# Nothing built or downloaded lands in the repository. Each tool is built in its own wrapper module
# under <cache>/build/<name>; a tool counts as built once <cache>/bin/<binary> exists (written last,
# atomically), so an interrupted build is simply redone.
#
# What the proxy serves here (probed 2026-11-23, provider/v4 re-probed 2026-12-01):
#   * pulumi CLI                github.com/pulumi/pulumi/pkg/v3 v3.259.0 (tagged): same release as requirements.txt
#   * python language host      STAND-IN. Its own module (…/sdk/python/cmd/pulumi-language-python/v3) has no
#                               tags and the proxy answers 403 "This module version is not available" for every
#                               pseudo-version. Built instead: the host that still lived inside sdk/v3 (last there
#                               in v3.79.0), run with the v3.259.0 exec shim so the Python side is 3.259.0.
#   * kubernetes provider       …/pulumi-kubernetes/provider/v4 at the pseudo-version of the v4.25.0 release
#                               (tags v4.x.y and sdk/v4.x.y exist upstream, provider/v4.x.y never did); other
#                               versions are still refused. Registered under the SDK's version (4.32.0) so the
#                               engine loads it; where 4.25 and 4.32 differ, the tests say which one they prove.
#   * etcd 3.6, kube-apiserver/controller-manager/scheduler/kubectl 1.36.3, kwok/kwokctl 0.8.0: tagged.
#
# Each step's log (<cache>/logs/<step>.log) ends with the seconds of the build that made its tools;
# a warm run leaves the logs alone.
set -euo pipefail

PULUMI_VERSION=3.259.0
LANGHOST_SDK_VERSION=3.79.0          # last sdk/v3 release that contains the Python language host
K8S_SDK_VERSION=4.32.0               # pulumi-kubernetes in requirements.txt
K8S_PROVIDER_MODULE_VERSION=4.0.0-20260115033456-f47bc2d6f199   # provider/v4 at tag v4.25.0
KUBE_VERSION=1.36.3
ETCD_VERSION=3.6.14
KWOK_VERSION=0.8.0

KEY="pulumi${PULUMI_VERSION}-lang${LANGHOST_SDK_VERSION}-k8sprov4.25.0-kube${KUBE_VERSION}-etcd${ETCD_VERSION}-kwok${KWOK_VERSION}"
CACHE="${ICC_E2E_CACHE:-$HOME/.cache/icc-ollama-e2e}/$KEY"
BIN="$CACHE/bin"
REQUIRED=(pulumi pulumi-language-python pulumi-language-python-exec pulumi-resource-kubernetes
          etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok kwokctl)

case "${1:-}" in
  --print) echo "$BIN"; exit 0 ;;
  --check)
    for b in "${REQUIRED[@]}"; do [[ -x "$BIN/$b" ]] || { echo "missing: $BIN/$b" >&2; exit 1; }; done
    echo "$BIN"; exit 0 ;;
esac

export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-mod=mod -trimpath -buildvcs=false"
export GOPROXY="${GOPROXY:-https://proxy.golang.org}"
mkdir -p "$BIN" "$CACHE/build" "$CACHE/logs"

log() { printf '[e2e-tools %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
have() { for b in "$@"; do [[ -x "$BIN/$b" ]] || return 1; done; }

# wrapper NAME: a fresh wrapper module folder, printed
wrapper() {
  local dir="$CACHE/build/$1"
  mkdir -p "$dir"
  [[ -f "$dir/go.mod" ]] || (cd "$dir" && go mod init "local/$1" >/dev/null 2>&1)
  echo "$dir"
}

# install SRC NAME: move a freshly built binary into BIN atomically
install_bin() { chmod 755 "$1"; mv -f "$1" "$BIN/$2"; }

build_pulumi() {
  have pulumi && return 0
  log "pulumi CLI v$PULUMI_VERSION"
  local dir; dir=$(wrapper pulumi-cli)
  (cd "$dir"
   go mod edit -replace github.com/atotto/clipboard=github.com/tgummerer/clipboard@v0.0.0-20241001131231-d02d263e614e
   go get -tool "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@v$PULUMI_VERSION"
   go build -o "$dir/out/pulumi" -tags osusergo,grpcnotrace \
     -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
     github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
  install_bin "$dir/out/pulumi" pulumi
}

build_langhost() {
  have pulumi-language-python pulumi-language-python-exec && return 0
  log "python language host (sdk/v3 v$LANGHOST_SDK_VERSION) + exec shim (sdk/v3 v$PULUMI_VERSION)"
  local dir; dir=$(wrapper pulumi-language-python)
  (cd "$dir"
   go get -tool "github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python@v$LANGHOST_SDK_VERSION"
   go build -o "$dir/out/pulumi-language-python" -tags osusergo,grpcnotrace \
     -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
     github.com/pulumi/pulumi/sdk/v3/python/cmd/pulumi-language-python)
  # The exec shim is a plain Python file inside the sdk/v3 module zip (not in the PyPI wheel).
  local sdkdir
  sdkdir=$(cd "$dir" && go mod download -json "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION" |
           sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  cp "$sdkdir/python/cmd/pulumi-language-python-exec" "$dir/out/pulumi-language-python-exec"
  install_bin "$dir/out/pulumi-language-python-exec" pulumi-language-python-exec
  install_bin "$dir/out/pulumi-language-python" pulumi-language-python
}

build_k8s_provider() {
  have pulumi-resource-kubernetes && return 0
  local module=github.com/pulumi/pulumi-kubernetes/provider/v4
  log "pulumi-resource-kubernetes ($module v$K8S_PROVIDER_MODULE_VERSION = v4.25.0, served as $K8S_SDK_VERSION)"
  local dir; dir=$(wrapper k8s-provider)
  (cd "$dir"
   # The module lacks the two JSON files main.go embeds (generated, gitignored upstream): build
   # from a writable copy, generated in place, through a replace.
   local src
   src=$(go mod download -json "$module@v$K8S_PROVIDER_MODULE_VERSION" |
         sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
   rm -rf provider && cp -r "$src" provider && chmod -R u+w provider
   go mod edit -require="$module@v$K8S_PROVIDER_MODULE_VERSION" -replace="$module=./provider"
   # generate.go is a `//go:build ignore` program: built without that line in a folder of its own.
   mkdir -p gen out
   grep -v -e '^//go:build ignore' -e '^// +build ignore' \
     provider/cmd/pulumi-resource-kubernetes/generate.go >gen/main.go
   go build -o out/generate ./gen
   (cd provider/cmd/pulumi-resource-kubernetes && VERSION="$K8S_SDK_VERSION" "$dir/out/generate")
   go build -o "$dir/out/pulumi-resource-kubernetes" \
     -ldflags "-s -w -X $module/pkg/version.Version=v$K8S_SDK_VERSION" \
     "$module/cmd/pulumi-resource-kubernetes")
  install_bin "$dir/out/pulumi-resource-kubernetes" pulumi-resource-kubernetes
}

build_etcd() {
  have etcd && return 0
  log "etcd v$ETCD_VERSION"
  local dir; dir=$(wrapper etcd)
  (cd "$dir"
   go get -tool "go.etcd.io/etcd/server/v3@v$ETCD_VERSION"
   go build -o "$dir/out/etcd" -ldflags "-s -w" go.etcd.io/etcd/server/v3)
  install_bin "$dir/out/etcd" etcd
}

build_kwok() {
  have kwok kwokctl && return 0
  log "kwok, kwokctl v$KWOK_VERSION"
  local dir; dir=$(wrapper kwok)
  (cd "$dir"
   go get -tool "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@v$KWOK_VERSION"
   mkdir -p out
   go build -o "$dir/out/" -ldflags "-s -w" sigs.k8s.io/kwok/cmd/kwok sigs.k8s.io/kwok/cmd/kwokctl)
  install_bin "$dir/out/kwok" kwok
  install_bin "$dir/out/kwokctl" kwokctl
}

build_kube() {
  have kube-apiserver kube-controller-manager kube-scheduler kubectl && return 0
  log "kube-apiserver, kube-controller-manager, kube-scheduler, kubectl v$KUBE_VERSION (slowest step)"
  local dir; dir=$(wrapper kube)
  local minor=${KUBE_VERSION#*.}; minor=${minor%%.*}
  (cd "$dir"
   local gomod
   gomod=$(go mod download -json "k8s.io/kubernetes@v$KUBE_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
   # Every staging module k8s.io/X v0.0.0 is replaced by the published k8s.io/X v0.N.M.
   local staging
   staging=$(awk '/^require/{r=1} r && $1 ~ /^k8s\.io\// && $2 == "v0.0.0" {print $1}' "$gomod" | sort -u)
   local args=()
   for m in $staging; do args+=(-replace "$m=$m@v0.${KUBE_VERSION#*.}"); done
   go mod edit "${args[@]}"
   go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@v$KUBE_VERSION" \
     "k8s.io/kubernetes/cmd/kube-controller-manager@v$KUBE_VERSION" \
     "k8s.io/kubernetes/cmd/kube-scheduler@v$KUBE_VERSION" "k8s.io/kubernetes/cmd/kubectl@v$KUBE_VERSION"
   local ld="-s -w" p
   for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
     ld+=" -X $p.gitVersion=v$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
     ld+=" -X $p.gitTreeState=clean -X $p.buildDate=2026-01-01T00:00:00Z"
   done
   mkdir -p out
   go build -o "$dir/out/" -ldflags "$ld" k8s.io/kubernetes/cmd/kube-apiserver \
     k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl)
  local b
  for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do install_bin "$dir/out/$b" "$b"; done
}

# Build order: what the cheapest test tiers need first, the slow control plane last.
# E2E_TOOLS_ONLY="pulumi langhost" limits the steps (for debugging).
# A step whose tools are there is skipped before its log is touched: the log keeps the seconds
# of the build that made them.
declare -A STEP_TOOLS=([pulumi]="pulumi" [langhost]="pulumi-language-python pulumi-language-python-exec"
  [k8s_provider]="pulumi-resource-kubernetes" [etcd]="etcd" [kwok]="kwok kwokctl"
  [kube]="kube-apiserver kube-controller-manager kube-scheduler kubectl")
status=0
for step in ${E2E_TOOLS_ONLY:-pulumi langhost k8s_provider etcd kwok kube}; do
  # shellcheck disable=SC2086  # a list of names
  have ${STEP_TOOLS[$step]} && continue
  case $step in
    langhost) fn=build_langhost ;; k8s_provider) fn=build_k8s_provider ;; *) fn=build_$step ;;
  esac
  start=$SECONDS rc=0
  # In the background, not under `if`: there `set -e` would be ignored inside the function.
  "$fn" >"$CACHE/logs/$step.log" 2>&1 &
  wait $! || rc=$?
  printf '[e2e-tools] %s: exit %d after %d s (%(%F %T)T)\n' "$step" "$rc" $((SECONDS - start)) -1 \
    >>"$CACHE/logs/$step.log"
  if (( rc != 0 )); then
    log "FAILED: $step (log: $CACHE/logs/$step.log)"; tail -n 15 "$CACHE/logs/$step.log" >&2; status=1
  elif (( SECONDS - start > 1 )); then
    log "built $step in $((SECONDS - start)) s"
  fi
done
echo "$BIN"
exit $status
