#!/usr/bin/env bash
# Docker Engines for the docker target's engine tier (tests/e2e/test_docker_engine.py), kept in a
# cache folder outside the repository:  ~/.cache/icc-ollama-e2e/<key>/bin
#
#   scripts/docker-engine.sh            build/fetch what is missing (a warm run takes a second)
#   scripts/docker-engine.sh --print    only print the bin dir
#   scripts/docker-engine.sh --check    exit 0 only if both engines are there
#
# * dockerd (current): the tagged module github.com/docker/docker from the Go module proxy. Its
#   module file is named vendor.mod upstream (the repository is not a Go module at its root), so
#   the downloaded module is copied to a writable folder and built with vendor.mod as go.mod.
# * dockerd-20.10: Debian 12's docker.io, the oldest engine the docker target supports.
# * containerd, containerd-shim-runc-v2, runc, tini-static (docker-init), busybox (static, for the
#   stand-in images): from Debian's packages too.
# Debian packages are fetched with `apt-get download` and unpacked with dpkg-deb, never
# installed: no system service is started or changed. Nothing here starts a daemon; the tests do,
# confined to a temporary folder and their own network namespace.
set -euo pipefail

DOCKER_VERSION=28.5.2
KEY="dockerd${DOCKER_VERSION}-debian12"
CACHE="${ICC_E2E_CACHE:-$HOME/.cache/icc-ollama-e2e}/$KEY"
BIN="$CACHE/bin"
# binary in BIN <- Debian package : path in that package
DEBIAN=("dockerd-20.10 docker.io usr/sbin/dockerd"
        "containerd containerd usr/bin/containerd"
        "containerd-shim-runc-v2 containerd usr/bin/containerd-shim-runc-v2"
        "runc runc usr/sbin/runc"
        "tini-static tini usr/bin/tini-static"
        "busybox busybox-static bin/busybox")
REQUIRED=(dockerd docker-create-probe dockerd-20.10 containerd containerd-shim-runc-v2 runc
          tini-static busybox)
PROBE_SRC="$(cd "$(dirname "$0")/.." && pwd)/tests/e2e/docker_create_probe/main.go"

case "${1:-}" in
  --print) echo "$BIN"; exit 0 ;;
  --check)
    for b in "${REQUIRED[@]}"; do [[ -x "$BIN/$b" ]] || { echo "missing: $BIN/$b" >&2; exit 1; }; done
    [[ "$BIN/docker-create-probe" -nt "$PROBE_SRC" ]] || { echo "stale: docker-create-probe" >&2; exit 1; }
    echo "$BIN"; exit 0 ;;
esac

export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-mod=mod -trimpath -buildvcs=false"
mkdir -p "$BIN" "$CACHE/build" "$CACHE/logs"
log() { printf '[docker-engine %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

SRC="$CACHE/build/docker-$DOCKER_VERSION"

# The module, writable, with vendor.mod as go.mod (kept between runs).
docker_source() {
  [[ -f "$SRC/go.mod" ]] && return 0
  local probe="$CACHE/build/download" moddir
  mkdir -p "$probe"
  [[ -f "$probe/go.mod" ]] || (cd "$probe" && go mod init local/download >/dev/null 2>&1)
  moddir=$(cd "$probe" && go mod download -json "github.com/docker/docker@v$DOCKER_VERSION+incompatible" |
           sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -d "$moddir" ]] || { echo "docker-engine: module download failed" >&2; exit 1; }
  rm -rf "$SRC"; cp -r "$moddir" "$SRC"; chmod -R u+w "$SRC"
  cp "$SRC/vendor.sum" "$SRC/go.sum"; cp "$SRC/vendor.mod" "$SRC/go.mod"
}

build_dockerd() {
  [[ -x "$BIN/dockerd" ]] && return 0
  log "dockerd v$DOCKER_VERSION from the Go module proxy"
  docker_source
  (cd "$SRC" && go build -o "$CACHE/build/dockerd" \
     -ldflags "-s -w -X github.com/docker/docker/dockerversion.Version=$DOCKER_VERSION" ./cmd/dockerd)
  chmod 755 "$CACHE/build/dockerd"; mv -f "$CACHE/build/dockerd" "$BIN/dockerd"
}

# The project's own probe (tests/e2e/docker_create_probe), built against the same module's client
# package, the client the Docker provider uses; rebuilt when its source changes.
build_probe() {
  [[ "$BIN/docker-create-probe" -nt "$PROBE_SRC" ]] && return 0
  log "docker-create-probe (Docker Go client v$DOCKER_VERSION)"
  docker_source
  mkdir -p "$SRC/cmd/icc-create-probe"
  cp "$PROBE_SRC" "$SRC/cmd/icc-create-probe/main.go"
  (cd "$SRC" && go build -o "$CACHE/build/docker-create-probe" ./cmd/icc-create-probe)
  chmod 755 "$CACHE/build/docker-create-probe"
  mv -f "$CACHE/build/docker-create-probe" "$BIN/docker-create-probe"
}

fetch_debian() {
  local entry name package path dir="$CACHE/build/debian"
  for entry in "${DEBIAN[@]}"; do
    read -r name package path <<<"$entry"
    [[ -x "$BIN/$name" ]] && continue
    log "$name from Debian's $package package (unpacked, not installed)"
    mkdir -p "$dir/$package"
    if ! ls "$dir/$package"/*.deb >/dev/null 2>&1; then
      (cd "$dir/$package" && { apt-get download "$package" >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null && apt-get download "$package" >/dev/null; }; })
      dpkg-deb -x "$dir/$package"/*.deb "$dir/$package/root"
    fi
    install -m 755 "$dir/$package/root/$path" "$BIN/$name"
  done
}

# The one host package: the engines' embedded DNS (container names such as `ollama`) sets up
# iptables rules inside each container's network namespace. It runs no service.
host_iptables() {
  command -v iptables >/dev/null 2>&1 && return 0
  log "iptables (Debian package, for the engines' embedded DNS)"
  { apt-get install -y -qq --no-install-recommends iptables >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends iptables >/dev/null; }; }
}

build_dockerd > >(tee -a "$CACHE/logs/dockerd.log") 2>&1
build_probe > >(tee -a "$CACHE/logs/probe.log") 2>&1
fetch_debian
host_iptables
echo "$BIN"
