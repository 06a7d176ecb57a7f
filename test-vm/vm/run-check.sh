#!/usr/bin/env bash
# The test VM run: boots the cached Debian 12 image (build-image.sh) under qemu TCG with systemd as
# PID 1, the working copy shared in over virtiofs, networked through a bridge inside a network
# namespace this script creates (never the host's), and runs guest-check.sh inside: install.sh,
# k8ts-server.service active, node Ready, a container surviving `systemctl restart`, uninstall.
#
#   sudo test-vm/vm/run-check.sh            # prints the guest's console and a timing summary
#   K8TS_VM_AGENTS=1 (agent VMs joining it) K8TS_VM_TIMEOUT=1500 K8TS_VM_MEM=2048 K8TS_VM_KEEP=1 (keep the run folder) …
#   K8TS_VM_NETWORK=vxlan|routed|bridge-local K8TS_VM_PROXY=nftables|iptables|ipvs: the modes every
#   node is installed with (install.sh -- --network … --proxy-mode …; default vxlan and nftables;
#   join-vm.test.ts runs ipvs)
#
# Needs: npm run build done, qemu-system-x86, qemu-utils, debootstrap (scripts/setup.sh), root.
# Exit code: the guest check's (0 = every check passed), 124 on timeout, 1 on a harness failure.
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
repo=$(readlink -f "$here/../..")
timeout_s=${K8TS_VM_TIMEOUT:-1500}
network=${K8TS_VM_NETWORK:-vxlan}
proxy=${K8TS_VM_PROXY:-nftables}
# shellcheck source=host-lib.sh
. "$here/host-lib.sh"
# Agent VMs joining the server VM (each another 2 vCPUs of TCG: slow on a small machine).
agents=${K8TS_VM_AGENTS:-0}
[ "$(id -u)" = 0 ] || { echo "run-check.sh: run as root" >&2; exit 1; }
[ -f "$repo/dist/cli/main.js" ] || { echo "run-check.sh: build first (npm run build)" >&2; exit 1; }

start=$(date +%s.%N)
elapsed() { awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
image=$("$here/build-image.sh")
t_image=$(elapsed)

suffix=$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')
ns=k8ts-t-vm$suffix
work=$(mktemp -d /tmp/k8ts-t-vm.XXXXXX)
pids=() tailer=
cleanup() {
  [ -z "$tailer" ] || kill "$tailer" 2>/dev/null || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  ip netns delete "$ns" 2>/dev/null || true
  if [ "${K8TS_VM_KEEP:-0}" = 1 ]; then echo "run folder kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
# Killed (a test's timeout, Ctrl-C): exit, so the EXIT trap stops the VMs and removes the namespace.
trap 'exit 143' TERM INT HUP
mkdir -p "$work/run"

# What the guests need besides the working copy and the image (which has kubectl): the test image.
node --input-type=module -e "
  const m = await import('$repo/dist/test/images/build-busybox-image.js');
  await m.ensureBusyboxImage('$work/run/busybox.tar');
  console.log(m.testImageName);" >"$work/run/image-name"
# VM 0 is the server (10.99.0.2, guest-check.sh); VM i ≥ 1 is agent i (10.99.0.(2+i), guest-agent.sh).
vms=$((agents + 1))

# The network: a bridge with one tap per VM inside our own namespace; the bridge is 10.99.0.1.
ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link add br0 type bridge
ip -n "$ns" addr add 10.99.0.1/24 dev br0
ip -n "$ns" link set br0 up

for i in $(seq 0 $((vms - 1))); do
  qemu-img create -q -f qcow2 -b "$image/base.img" -F raw "$work/vm$i.qcow2"
  ip -n "$ns" tuntap add "tap$i" mode tap
  ip -n "$ns" link set "tap$i" master br0
  ip -n "$ns" link set "tap$i" up
  # Shares: the working copy and the run folder (one virtiofsd per VM and share).
  vm_shares "$work" "$i" "$repo" "$work/run"
done
t_setup=$(elapsed)

boot() {
  local i=$1 name script
  if [ "$i" = 0 ]; then name=k8ts-server script=guest-check.sh; else name=k8ts-agent$i script=guest-agent.sh; fi
  local cmdline="$vm_boot_args net.ifnames=0"
  cmdline+=" vmtest.script=test-vm/vm/$script vmtest.name=$name vmtest.agents=$agents"
  cmdline+=" vmtest.ip=10.99.0.$((2 + i))/24 vmtest.gw=10.99.0.1 vmtest.server=10.99.0.2"
  cmdline+=" vmtest.network=$network vmtest.proxy=$proxy"
  vm_qemu_cmd "$image" "$work/vm$i.qcow2" "$cmdline" "$work" "$i"
  # exec: the pid the harness holds is timeout's, which passes a SIGTERM on to qemu.
  exec timeout "$timeout_s" ip netns exec "$ns" "${qemu[@]}" \
    -netdev tap,id=n0,ifname="tap$i",script=no,downscript=no -device virtio-net-pci,netdev=n0,mac="52:54:00:99:00:$(printf %02x $((2 + i)))" \
    </dev/null >"$work/console-$name.log" 2>&1
}
qemus=()
for i in $(seq 0 $((vms - 1))); do : >"$work/console-$([ "$i" = 0 ] && echo k8ts-server || echo "k8ts-agent$i").log"; done
for i in $(seq 0 $((vms - 1))); do
  boot "$i" &
  qemus+=($!)
  pids+=($!)
done
# The consoles' step lines, prefixed with the VM, as they come.
tail -q -n +1 -F --pid=$$ "$work"/console-*.log 2>/dev/null | grep --line-buffered -aE '^(vmcheck|vmtest|cluster-checks|NAME|k8ts|install|copying|wrote|started|left|kept)|Kernel panic' &
tailer=$!
statuses=() t_off=()
for q in "${qemus[@]}"; do
  set +e; wait "$q"; statuses+=($?); set -e
  t_off+=("$(elapsed)")
done
kill "$tailer" 2>/dev/null || true
t_vm=$(elapsed)

echo "--- timings (s since start): image ready $t_image, harness set up $t_setup, VMs powered off ${t_off[*]}"
failed=0
for i in $(seq 0 $((vms - 1))); do
  if [ "$i" = 0 ]; then name=k8ts-server; else name=k8ts-agent$i; fi
  code=$(cat "$work/run/result-$name" 2>/dev/null || echo none)
  echo "$name (seconds since its boot), result $code:"
  grep -aE '^vmcheck: ' "$work/console-$name.log" | awk '$3 == "ok" || $3 == "FAIL" { printf "    %-32s %-4s at %s s\n", $2, $3, $4; next } { sub(/^vmcheck: /, "    "); print }'
  if [ "${statuses[$i]}" = 124 ]; then echo "run-check: $name did not finish within ${timeout_s} s"; tail -30 "$work/console-$name.log"; failed=1; fi
  if [ "$code" != 0 ]; then
    [ "$code" = none ] && tail -40 "$work/console-$name.log"
    failed=1
  fi
done
[ "$failed" = 0 ] || { echo "run-check: FAILED"; exit 1; }
echo "run-check: all checks passed"
