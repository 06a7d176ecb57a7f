#!/usr/bin/env bash
# Sourced (on the host, by bash) by run-check.sh and ipvs-check.sh: the one way to start a test VM.
# The callers keep their own network (a tap in a test namespace, or none), timeout and console.
#
#   vm_shares WORK ID REPO RUNDIR    one virtiofsd per share (src: the working copy, read-mostly and
#                                    cached; run: the run's folder, uncached), their pids appended
#                                    to the caller's `pids` array; waits for the sockets
#   vm_qemu_cmd IMAGE DISK CMDLINE WORK ID
#                                    sets the array `qemu` to the qemu command line (TCG, systemd as
#                                    PID 1 on the cached image, an overlay disk, both shares); the
#                                    caller appends the network and runs it; CMDLINE starts with
#                                    $vm_boot_args
# Reads K8TS_VM_CPU (default Nehalem) and K8TS_VM_MEM (MiB, default 2048).

# Not `-cpu max`: qemu 7.2's TCG emulation of AVX/AVX2 is wrong enough that glibc's string
# functions return garbage in the guest (mount paths read back as "xxx", udevd and half the mount
# units fail). Nehalem (x86-64-v2, no AVX) runs systemd, Node and the kernel cleanly.
vm_cpu=${K8TS_VM_CPU:-Nehalem}
vm_mem=${K8TS_VM_MEM:-2048}
# The kernel command line every test VM starts with (the callers append their vmtest.* options).
# mitigations=off: the guest is a throwaway test machine, and under TCG the Spectre/Meltdown
# mitigations (page-table isolation flushing the emulated TLB on every syscall, retpolines) cost
# more than half of a syscall-heavy job: copying the program took 25 s with them, 11 s without.
# no_timer_check: skip the IO-APIC timer test (as cloud images for VMs do); under TCG on a loaded
# host it is where a guest stalled ("8254 timer not connected", then an RCU stall).
vm_boot_args="console=ttyS0 root=/dev/nvme0n1 rw rootfstype=ext4 panic=-1 quiet mitigations=off no_timer_check"

vm_shares() {
  local work=$1 id=$2 repo=$3 rundir=$4 share dir cache
  for share in src run; do
    if [ "$share" = src ]; then dir=$repo cache=always; else dir=$rundir cache=none; fi
    /usr/lib/qemu/virtiofsd --socket-path="$work/$share$id.sock" -o source="$dir" -o sandbox=chroot -o cache="$cache" \
      >"$work/virtiofsd-$share$id.log" 2>&1 &
    pids+=($!)
  done
  for share in src run; do
    for _ in $(seq 100); do [ -S "$work/$share$id.sock" ] && break; sleep 0.05; done
  done
}

vm_qemu_cmd() {
  local image=$1 disk=$2 cmdline=$3 work=$4 id=$5
  qemu=(qemu-system-x86_64
    -machine q35,accel=tcg,memory-backend=mem -cpu "$vm_cpu" -smp 2 -m "$vm_mem" -no-reboot
    # No default devices (VGA, parallel port, CD-ROM, monitor): only the serial console on stdout.
    -nodefaults -display none -serial stdio
    -object memory-backend-memfd,id=mem,size="${vm_mem}M",share=on
    -kernel "$image/vmlinuz" -append "$cmdline"
    -drive file="$disk",if=none,id=d0,format=qcow2,cache=unsafe -device nvme,drive=d0,serial=root0
    -chardev socket,id=vfs0,path="$work/src$id.sock" -device vhost-user-fs-pci,chardev=vfs0,tag=src
    -chardev socket,id=vfs1,path="$work/run$id.sock" -device vhost-user-fs-pci,chardev=vfs1,tag=run)
}
