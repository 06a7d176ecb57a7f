#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (as root) for k8ts from this checkout: Debian packages, npm
# dependencies and the build. With --start it then runs `k8ts server` in the foreground (embedded
# SQLite store, data in /var/lib/k8ts, kubeconfig at /var/lib/k8ts/kubeconfig.yaml).
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."

# What a node needs at run time: install.sh installs these (one list, read with --print-runtime-packages).
runtime_packages=(
  iproute2 nftables iptables conntrack ipset ipvsadm kmod ethtool
  ca-certificates curl
  containerd runc containernetworking-plugins   # the agent's container runtime and CNI plugins
)
if [ "${1:-}" = "--print-runtime-packages" ]; then printf '%s\n' "${runtime_packages[@]}"; exit 0; fi
packages=(
  "${runtime_packages[@]}"
  etcd-server      # the HA store backend (and its tests)
  openssl          # inspecting certificates in tests and by hand
  busybox-static   # the test image (test/images/build-busybox-image.ts)
  docker-registry  # a registry in a test network namespace for the agent's pull tests (test/e2e/agent-pull.test.ts)
  gcc libc6-dev    # its static udpecho (test/images/udpecho.c): busybox nc has no UDP
  dnsutils dnsperf # dig in the DNS tests, dnsperf in bench/dns.ts
  iperf3           # bench/network.ts (pod-to-pod throughput against raw veth)
  bird2            # routed mode's optional BGP (netplugins/routed/bird.ts) and its tests
  systemd          # systemd-analyze verify of the unit files (test/e2e/install.test.ts)
  vagrant vagrant-libvirt   # vagrant validate of the Vagrantfile, libvirt provider included (test/e2e/install.test.ts)
  qemu-system-x86 qemu-utils debootstrap   # the test VM (test-vm/vm/)
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
