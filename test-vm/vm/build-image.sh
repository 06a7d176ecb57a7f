#!/usr/bin/env bash
# Builds (once) the Debian 12 image the test VM boots, and caches it under
# /var/cache/k8ts-test-vm/<key>/ (key: this script + the runtime package list + the kernel).
# Prints the cache directory on stdout; progress and timings go to stderr.
#
# Design notes (see ../../../shared/TESTVM.md for what was measured on this machine):
# - Debian's cloud kernel has NVMe and ext4 built in (no initramfs) and IPVS, dummy and VXLAN as
#   modules, which this machine's kernel lacks: that is why the VM exists.
# - The image is built without a loop device (`mkfs.ext4 -d`), so no privileges beyond root and no
#   /dev/loop are needed.
# - The guest has no route to the internet, so everything install.sh would apt-get is installed
#   here (the same list: scripts/setup.sh --print-runtime-packages), and install.sh finds it present.
# - The payload is not baked in: k8ts-vmtest.service mounts the shares and runs the script named on
#   the kernel command line (vmtest.script=…), so changing a check does not rebuild the image.
# - The host's Node binary goes into /usr/local/bin: Debian 12's nodejs is 18 and the native
#   addons in node_modules are built for the host's Node.
# - So does kubectl (K8TS_KUBECTL): the checks call it dozens of times, and an exec from the run
#   share (virtiofs, cache=none) rereads its 50 MB each time: ~4.5 s a call under TCG, ~1 s from the
#   image's own disk.
# - Boot: no fstab entry for / (the kernel mounts it rw; with an entry systemd waits up to 10 s for
#   udev to announce the nvme device and runs fsck), and the units a test VM does not need are
#   masked (e2scrub, Debian's ipvsadm rule restore, apt and dpkg timers).
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
repo=$(readlink -f "$here/../..")
cache=${K8TS_TEST_VM_CACHE:-/var/cache/k8ts-test-vm}
mirror=${K8TS_TEST_VM_MIRROR:-http://deb.debian.org/debian}
node_bin=$(readlink -f "$(command -v node)")
kubectl=${K8TS_KUBECTL:-/usr/lib/google-cloud-sdk/bin/kubectl.1.32}

[ "$(id -u)" = 0 ] || { echo "build-image.sh: run as root (debootstrap)" >&2; exit 1; }
[ -x "$kubectl" ] || { echo "build-image.sh: no kubectl at $kubectl (K8TS_KUBECTL)" >&2; exit 1; }
for tool in debootstrap mkfs.ext4 apt-get dpkg-deb bc; do
  command -v "$tool" >/dev/null || { echo "build-image.sh: $tool is missing (scripts/setup.sh installs it)" >&2; exit 1; }
done

mapfile -t runtime < <(bash "$repo/scripts/setup.sh" --print-runtime-packages)
kernel_pkg=${K8TS_TEST_VM_KERNEL:-$(apt-cache depends linux-image-cloud-amd64 | sed -n 's/.*Depends: \(linux-image-[0-9.-]*-cloud-amd64\)$/\1/p' | head -1)}
[ -n "$kernel_pkg" ] || { echo "build-image.sh: cannot find the cloud kernel package (apt-get update?)" >&2; exit 1; }
kver=${kernel_pkg#linux-image-}
key=$( { cat "$0"; printf '%s\n' "${runtime[@]}" "$kernel_pkg"; "$node_bin" --version; sha256sum <"$kubectl"; } | sha256sum | cut -c1-12)
out="$cache/$key"
# Each use marks the image (its done file's time); images of other keys (an older version of this
# script, another kernel) unused for a day go, so old 600 MB images do not pile up.
prune_stale() {
  find "$cache" -mindepth 2 -maxdepth 2 -name done -mmin +1440 -printf '%h\n' 2>/dev/null | while read -r d; do [ "$d" = "$out" ] || rm -rf "$d"; done
}
if [ -f "$out/done" ]; then touch "$out/done"; prune_stale; echo "$out"; exit 0; fi

t0=$(date +%s.%N)
step() { printf 'build-image: %-28s %6.1f s\n' "$1" "$(echo "$(date +%s.%N) - $t0" | bc)" >&2; }
mkdir -p "$cache"
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"

# 1. The kernel: one exact package (a wildcard would download dozens).
(cd "$work" && apt-get download -q "$kernel_pkg" >/dev/null)
dpkg-deb -x "$work"/linux-image-*.deb "$work/kernel"
step "kernel downloaded"

# 2. The root filesystem.
include=systemd-sysv,udev,iproute2,ipvsadm,nftables,kmod,iputils-ping,procps,$(IFS=,; echo "${runtime[*]}")
debootstrap --variant=minbase --include="$include" bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
step "debootstrap"

mkdir -p "$rootfs/lib/modules"
cp -a "$work/kernel/lib/modules/$kver" "$rootfs/lib/modules/"
chroot "$rootfs" depmod "$kver"
install -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
install -m 0755 "$kubectl" "$rootfs/usr/local/bin/kubectl"

echo k8ts-vm >"$rootfs/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 k8ts-vm\n' >"$rootfs/etc/hosts"
# No entry for /: the kernel mounts it rw (root=… rw), and an entry would make systemd wait for
# the device's udev event and fsck it on every boot.
: >"$rootfs/etc/fstab"
: >"$rootfs/etc/resolv.conf"
chroot "$rootfs" passwd -d root >/dev/null
chroot "$rootfs" systemctl set-default multi-user.target >/dev/null 2>&1
# The serial getty would take over ttyS0 and the payload's output would be lost.
chroot "$rootfs" systemctl mask serial-getty@ttyS0.service getty@tty1.service getty.target >/dev/null 2>&1
# Debian's containerd package starts a system containerd; k8ts supervises its own.
chroot "$rootfs" systemctl disable containerd.service >/dev/null 2>&1 || true
# Nothing a test VM needs, each seconds of boot under TCG (systemd-analyze blame).
for unit in e2scrub_reap.service e2scrub_all.timer ipvsadm.service apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer; do
  chroot "$rootfs" systemctl mask "$unit" >/dev/null 2>&1
done
mkdir -p "$rootfs/mnt/src" "$rootfs/mnt/run"

cat >"$rootfs/usr/local/sbin/k8ts-vmtest" <<'EOF'
#!/bin/sh
# Mounts the two virtiofs shares (the working copy, the run's folder) and runs the payload named by
# vmtest.script= (a path under /mnt/src); its exit code goes to /mnt/run/exit-code, then power off.
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^vmtest\.$1=//p" | head -1; }
mount -t virtiofs src /mnt/src && mount -t virtiofs run /mnt/run || { echo "vmtest: cannot mount the shares"; systemctl start --no-block poweroff.target; exit 1; }
echo "vmtest: payload $(arg script) at $(cut -d' ' -f1 /proc/uptime) s after boot"
sh "/mnt/src/$(arg script)"
code=$?
echo "$code" >/mnt/run/exit-code
sync
echo "vmtest: payload exited $code"
[ "$(arg keep)" = 1 ] || systemctl start --no-block poweroff.target
EOF
chmod 0755 "$rootfs/usr/local/sbin/k8ts-vmtest"
cat >"$rootfs/etc/systemd/system/k8ts-vmtest.service" <<'EOF'
[Unit]
Description=k8ts test VM payload
After=multi-user.target
ConditionKernelCommandLine=vmtest.script

[Service]
Type=exec
ExecStart=/usr/local/sbin/k8ts-vmtest
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS0

[Install]
WantedBy=multi-user.target
EOF
chroot "$rootfs" systemctl enable k8ts-vmtest.service >/dev/null 2>&1
rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/lib/apt/lists/"*
step "configured"

mkdir -p "$out.tmp"
cp "$work/kernel/boot/vmlinuz-$kver" "$out.tmp/vmlinuz"
# Sparse: the file takes only what the root filesystem holds.
truncate -s 6G "$out.tmp/base.img"
mkfs.ext4 -q -F -L root -d "$rootfs" "$out.tmp/base.img"
echo "$kver" >"$out.tmp/kernel-version"
step "image written"
rm -rf "$out" && mv "$out.tmp" "$out" && touch "$out/done"
prune_stale
du -sh --apparent-size "$out/base.img" >&2
du -sh "$out/base.img" >&2
echo "$out"
