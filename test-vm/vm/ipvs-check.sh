#!/usr/bin/env bash
# The IPVS mode, for real: boots the cached test-VM image (build-image.sh, shared with run-check.sh)
# under qemu TCG with the working copy shared in over virtiofs and no network device, and runs
# ipvs-check-guest.sh inside (the IPVS applier against the VM's kernel, real TCP through a VIP).
#
#   sudo test-vm/vm/ipvs-check.sh                  # functional check only
#   sudo test-vm/vm/ipvs-check.sh 1000,10000       # plus the programming bench vs ipvsadm --restore
#   K8TS_VM_ITEST=1 (also run kernel/ipvs/socket.itest.ts under jest in the VM)
#   K8TS_VM_TIMEOUT=600 K8TS_VM_MEM=2048 K8TS_VM_KEEP=1 (keep the run folder) …
#
# Needs: npm run build (or tsc) done, qemu-system-x86, qemu-utils, root. Prints the guest's
# `ipvscheck:` lines and timings. Exit code: 0 when every check passed, 124 on timeout, 1 otherwise.
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
repo=$(readlink -f "$here/../..")
bench=${1:-}
timeout_s=${K8TS_VM_TIMEOUT:-600}
# shellcheck source=host-lib.sh
. "$here/host-lib.sh" # the qemu launch shared with run-check.sh (K8TS_VM_CPU, K8TS_VM_MEM)
[ "$(id -u)" = 0 ] || { echo "ipvs-check.sh: run as root" >&2; exit 1; }
[ -f "$repo/dist/test-vm/vm/ipvs-check-guest.js" ] || { echo "ipvs-check.sh: build first (npx tsc -p tsconfig.json)" >&2; exit 1; }

start=$(date +%s.%N)
elapsed() { awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
image=$("$here/build-image.sh")
t_image=$(elapsed)

work=$(mktemp -d /tmp/k8ts-t-ipvs.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "${K8TS_VM_KEEP:-0}" = 1 ]; then echo "run folder kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
mkdir -p "$work/run"
qemu-img create -q -f qcow2 -b "$image/base.img" -F raw "$work/vm.qcow2"
vm_shares "$work" "" "$repo" "$work/run"

cmdline="$vm_boot_args vmtest.script=test-vm/vm/ipvs-check-guest.sh"
[ -z "$bench" ] || cmdline+=" vmtest.bench=$bench"
[ "${K8TS_VM_ITEST:-0}" != 1 ] || cmdline+=" vmtest.itest=1"
t_boot=$(elapsed)
set +e
vm_qemu_cmd "$image" "$work/vm.qcow2" "$cmdline" "$work" ""
timeout "$timeout_s" "${qemu[@]}" -nic none </dev/null >"$work/console.log" 2>&1
status=$?
set -e
t_done=$(elapsed)
grep -aE '^(ipvscheck|vmtest):' "$work/console.log" || true
code=$(cat "$work/run/exit-code" 2>/dev/null || echo none)
echo "--- timings (s since start): image ready $t_image, qemu started $t_boot, VM powered off $t_done; guest exit code $code"
if [ "$status" = 124 ]; then echo "ipvs-check: the VM did not finish within ${timeout_s} s"; tail -30 "$work/console.log"; exit 124; fi
if [ "$code" != 0 ]; then [ "$code" = none ] && tail -40 "$work/console.log"; echo "ipvs-check: FAILED"; exit 1; fi
echo "ipvs-check: all checks passed"
