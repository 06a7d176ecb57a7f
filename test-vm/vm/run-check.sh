#!/usr/bin/env bash
# The test VM run: boots the cached Debian 12 image (build-image.sh) under qemu TCG with systemd as
# PID 1, the working copy shared in over virtiofs, networked through a bridge inside a network
# namespace this script creates (never the host's), and runs guest-check.sh inside: install.sh,
# k8ts-server.service active, node Ready, a container surviving `systemctl restart`, uninstall.
#
#   sudo test-vm/vm/run-check.sh            # prints the guest's console and a timing summary
#   K8TS_VM_AGENTS=1 (agent VMs joining it) K8TS_VM_TIMEOUT=1500 K8TS_VM_MEM=2048 K8TS_VM_KEEP=1 (keep the run folder) …
#
# Needs: npm run build done, qemu-system-x86, qemu-utils, debootstrap (scripts/setup.sh), root.
# Exit code: the guest check's (0 = every check passed), 124 on timeout, 1 on a harness failure.
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
repo=$(readlink -f "$here/../..")
timeout_s=${K8TS_VM_TIMEOUT:-1500}
mem=${K8TS_VM_MEM:-2048}
# Not `-cpu max`: qemu 7.2's TCG emulation of AVX/AVX2 is wrong enough that glibc's string
# functions return garbage in the guest (mount paths read back as "xxx", udevd and half the mount
# units fail). Nehalem (x86-64-v2, no AVX) runs systemd, Node and the kernel cleanly.
cpu=${K8TS_VM_CPU:-Nehalem}
# Agent VMs joining the server VM (each another 2 vCPUs of TCG: slow on a small machine).
agents=${K8TS_VM_AGENTS:-0}
kubectl=${K8TS_KUBECTL:-/usr/lib/google-cloud-sdk/bin/kubectl.1.32}
[ "$(id -u)" = 0 ] || { echo "run-check.sh: run as root" >&2; exit 1; }
[ -f "$repo/dist/cli/main.js" ] || { echo "run-check.sh: build first (npm run build)" >&2; exit 1; }

start=$(date +%s.%N)
elapsed() { awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
image=$("$here/build-image.sh")
t_image=$(elapsed)

suffix=$(head -c4 /dev/urandom | od -An -tx1 | tr -d ' \n')
ns=k8ts-t-vm$suffix
work=$(mktemp -d /tmp/k8ts-t-vm.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  ip netns delete "$ns" 2>/dev/null || true
  if [ "${K8TS_VM_KEEP:-0}" = 1 ]; then echo "run folder kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
mkdir -p "$work/run"

# What the guests need besides the working copy: kubectl and the test image.
cp "$kubectl" "$work/run/kubectl"
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
  for share in src run; do
    dir=$([ "$share" = src ] && echo "$repo" || echo "$work/run")
    # The working copy is only read while the VMs run: let the guest cache it (install.sh copies ~10k files).
    cache=$([ "$share" = src ] && echo always || echo none)
    /usr/lib/qemu/virtiofsd --socket-path="$work/$share$i.sock" -o source="$dir" -o sandbox=chroot -o cache="$cache" >"$work/virtiofsd-$share$i.log" 2>&1 &
    pids+=($!)
  done
done
for i in $(seq 0 $((vms - 1))); do
  for share in src run; do
    for _ in $(seq 100); do [ -S "$work/$share$i.sock" ] && break; sleep 0.05; done
  done
done
t_setup=$(elapsed)

boot() {
  local i=$1 name script
  if [ "$i" = 0 ]; then name=k8ts-server script=guest-check.sh; else name=k8ts-agent$i script=guest-agent.sh; fi
  local cmdline="console=ttyS0 root=/dev/nvme0n1 rw rootfstype=ext4 panic=-1 net.ifnames=0 quiet"
  cmdline+=" vmtest.script=test-vm/vm/$script vmtest.name=$name vmtest.agents=$agents"
  cmdline+=" vmtest.ip=10.99.0.$((2 + i))/24 vmtest.gw=10.99.0.1 vmtest.server=10.99.0.2"
  # exec: the pid the harness holds is timeout's, which passes a SIGTERM on to qemu.
  exec timeout "$timeout_s" ip netns exec "$ns" qemu-system-x86_64 \
    -machine q35,accel=tcg,memory-backend=mem -cpu "$cpu" -smp 2 -m "$mem" -nographic -no-reboot \
    -object memory-backend-memfd,id=mem,size="${mem}M",share=on \
    -kernel "$image/vmlinuz" -append "$cmdline" \
    -drive file="$work/vm$i.qcow2",if=none,id=d0,format=qcow2,cache=unsafe -device nvme,drive=d0,serial=root0 \
    -netdev tap,id=n0,ifname="tap$i",script=no,downscript=no -device virtio-net-pci,netdev=n0,mac="52:54:00:99:00:$(printf %02x $((2 + i)))" \
    -chardev socket,id=vfs0,path="$work/src$i.sock" -device vhost-user-fs-pci,chardev=vfs0,tag=src \
    -chardev socket,id=vfs1,path="$work/run$i.sock" -device vhost-user-fs-pci,chardev=vfs1,tag=run \
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
tail -q -n +1 -F --pid=$$ "$work"/console-*.log 2>/dev/null | grep --line-buffered -aE '^(vmcheck|vmtest|NAME|k8ts|install|copying|wrote|started|left|kept)|Kernel panic' &
tailer=$!
statuses=()
for q in "${qemus[@]}"; do
  set +e; wait "$q"; statuses+=($?); set -e
done
kill "$tailer" 2>/dev/null || true
t_vm=$(elapsed)

echo "--- timings (s since start): image ready $t_image, harness set up $t_setup, VMs powered off $t_vm"
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
