#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (as root) for k8ts from this checkout: Debian packages, npm
# dependencies and the build. With --start it then runs `k8ts server` in the foreground (embedded
# SQLite store, data in /var/lib/k8ts, kubeconfig at /var/lib/k8ts/kubeconfig.yaml).
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."

packages=(
  etcd-server      # the HA store backend (and its tests)
  openssl          # inspecting certificates in tests and by hand
  iproute2 nftables iptables conntrack ipset
  ca-certificates curl
  containerd runc containernetworking-plugins   # the agent's container runtime and CNI plugins
  busybox-static   # the test image (test/images/build-busybox-image.ts)
  dnsutils dnsperf # dig in the DNS tests, dnsperf in bench/dns.ts
)
missing=()
for p in "${packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's etcd-server package starts a system etcd on 2379; k8ts starts its own when asked.
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then systemctl disable --now etcd >/dev/null 2>&1 || true; fi

npm ci --no-audit --no-fund --loglevel=error
npm run build --silent

if [ "${1:-}" = "--start" ]; then
  shift
  exec ./bin/k8ts server "$@"
fi
