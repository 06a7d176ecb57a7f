#!/bin/sh
# Sourced by guest-check.sh (the server VM) and guest-agent.sh (agent VMs): step reporting, polling,
# the network from the kernel command line, this VM's node name, and the kernel checks (IPVS,
# dummy links) this machine's own kernel cannot do.
set -u
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^vmtest\.$1=//p" | head -1; }
up() { cut -d' ' -f1 /proc/uptime; }
since() { awk -v a="$1" -v b="$(up)" 'BEGIN { printf "%.1f", b - a }'; }
failed=0
ok() { echo "vmcheck: $1 ok $(up)"; }
fail() { echo "vmcheck: $1 FAIL $(up)"; failed=1; }
check() { step=$1; shift; if "$@"; then ok "$step"; else fail "$step"; fi; }
# Polls a command for up to $2 seconds.
until_ok() { cmd=$1; limit=$2; i=0; while [ "$i" -lt "$limit" ]; do sh -c "$cmd" >/dev/null 2>&1 && return 0; sleep 1; i=$((i + 1)); done; return 1; }

ip=$(arg ip) gw=$(arg gw) name=$(arg name) agents=$(arg agents)
name=${name:-k8ts-vm} agents=${agents:-0}
# The flags for config.yaml that choose the network and proxy modes (install.sh -- FLAGS).
modes="${modes:-}"
[ -z "$(arg network)" ] || modes="$modes --network $(arg network)"
[ -z "$(arg proxy)" ] || modes="$modes --proxy-mode $(arg proxy)"
image=$(cat /mnt/run/image-name)
# The node name is the hostname: one per VM.
hostname "$name"
echo "$name" >/etc/hostname
echo "127.0.1.1 $name" >>/etc/hosts
echo "vmcheck: start $(up) kernel $(uname -r) node $name"
# Waits for a file another VM writes into the shared run folder.
until_file() { until_ok "test -e /mnt/run/$1" "$2"; }
# The verdict, for run-check.sh (one file per VM).
finish() { echo "vmcheck: done $(up) failed=$failed"; echo "$failed" >"/mnt/run/result-$name"; exit "$failed"; }

# The network: the bridge in the host's test namespace is the gateway.
ip link set lo up
ip link set eth0 up
ip addr add "$ip" dev eth0
ip route add default via "$gw"
check network ping -c1 -W5 "$gw"

# The kernel features this machine's own kernel lacks.
check modprobe-ip_vs modprobe ip_vs
check lsmod-ip_vs sh -c 'lsmod | grep -q "^ip_vs "'
check ipvsadm sh -c 'ipvsadm -A -t 10.96.0.1:80 -s rr && ipvsadm -a -t 10.96.0.1:80 -r 10.99.0.1:80 -m && ipvsadm -Ln | grep -q 10.99.0.1:80 && ipvsadm --clear'
check dummy-link sh -c 'ip link add k8ts-t-dummy type dummy && ip link delete k8ts-t-dummy'

