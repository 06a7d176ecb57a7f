#!/usr/bin/env bash
# Installs k8ts from this checkout as a systemd service, as k3s' install.sh does:
#
#   sudo ./install.sh                                   # a server (k8ts-server.service)
#   sudo ./install.sh --server https://10.0.0.10:6443 --token K10…   # an agent (k8ts-agent.service)
#   sudo ./install.sh --server URL --token T -- --network vxlan --node-ip 10.0.0.11
#   sudo k8ts uninstall [--keep-data]                   # or k8ts-uninstall.sh; k8ts-killall.sh
#
# Flags after `--` are flags of `k8ts server` / `k8ts agent` and go into /etc/k8ts/config.yaml.
# --root DIR (or DESTDIR=DIR) installs under DIR without apt, systemd or kernel changes (tests).
# --skip-apt (or K8TS_SKIP_APT=1) does not install Debian packages.
#
# This script does what needs a shell: the Debian packages (the runtime list of scripts/setup.sh)
# and, when dist/ is missing, the build. The rest is `k8ts install` (cli/install.ts).
set -euo pipefail
src=$(dirname "$(readlink -f "$0")")
args=() skip_apt=${K8TS_SKIP_APT:-0} root=${DESTDIR:-/}
while [ $# -gt 0 ]; do
  case "$1" in
    --skip-apt) skip_apt=1 ;;
    --root) root=$2; args+=("$1" "$2"); shift ;;
    --root=*) root=${1#--root=}; args+=("$1") ;;
    --) args+=("$@"); break ;;
    *) args+=("$1") ;;
  esac
  shift
done
[ "$root" = / ] || skip_apt=1
[ "$(id -u)" = 0 ] || [ "$root" != / ] || { echo "install.sh: run as root (sudo $0 $*)" >&2; exit 1; }

if [ "$skip_apt" != 1 ]; then
  mapfile -t packages < <(bash "$src/scripts/setup.sh" --print-runtime-packages)
  missing=()
  for p in "${packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "install.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  # Debian's containerd package starts a system containerd; the k8ts agent supervises its own.
  if [ -d /run/systemd/system ] && systemctl is-enabled containerd >/dev/null 2>&1; then systemctl disable --now containerd >/dev/null 2>&1 || true; fi
fi

node=${K8TS_NODE:-$(command -v node || true)}
if [ -z "$node" ] || [ "$("$node" -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "install.sh: k8ts needs Node.js 20 or later (found ${node:-none}); install it (e.g. from nodejs.org or NodeSource) or set K8TS_NODE" >&2
  exit 1
fi
if [ ! -f "$src/dist/cli/main.js" ]; then
  echo "install.sh: building k8ts (npm ci, npm run build)"
  (cd "$src" && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
fi
exec "$node" "$src/dist/cli/main.js" install --source "$src" --node "$(readlink -f "$node")" "${args[@]}"
