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
# The same for a command that may be one of this file's functions: retry SECONDS CMD ARGS…
retry() { _limit=$1; shift; _i=0; while [ "$_i" -lt "$_limit" ]; do "$@" >/dev/null 2>&1 && return 0; sleep 1; _i=$((_i + 1)); done; return 1; }

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
# A file for the other VMs, whole or not at all (written aside, then renamed).
publish() { cat >"/mnt/run/$1.tmp" && mv "/mnt/run/$1.tmp" "/mnt/run/$1"; }
# The facts cluster-checks.sh published about its Service: vip, port, nodeport, ips (pod IPs),
# nodeips, pods (name=IP of each check pod).
service_facts() { . /mnt/run/service-facts; }
. /mnt/src/test-vm/vm/http-lib.sh
# How many different backends answer at HOST:PORT within 12 requests (stops at 2).
backends() {
  _seen=$(backends_seen "$1" "$2")
  echo "vmcheck: $1:$2 from $name answered by: $_seen" >&2
  echo $_seen | wc -w
}
# At least two backends answer at HOST:PORT from this node.
both_backends() { [ "$(backends "$1" "$2")" -ge 2 ]; }
# IPVS: the virtual server VIP:PORT (TCP) exists and has exactly the real servers IP:8080 of $ips.
ipvs_has() {
  _out=$(ipvsadm -Ln -t "$1:$2" 2>&1) || { echo "vmcheck: ipvsadm -Ln -t $1:$2: $_out"; return 1; }
  echo "$_out" | sed -n 's/^ *-> \([0-9.]*:[0-9]*\) .*/\1/p' | sort >/tmp/ipvs-real
  for _ip in $ips; do echo "$_ip:8080"; done | sort >/tmp/ipvs-want
  echo "vmcheck: ipvs $1:$2 on $name → $(tr '\n' ' ' </tmp/ipvs-real)"
  cmp -s /tmp/ipvs-real /tmp/ipvs-want
}
# The pid of a check pod's web server on this node (cluster-checks.sh's pods run busybox httpd).
pid_of_httpd() { for d in /proc/[0-9]*; do [ "$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null)" = "httpd -f -p 8080 -h /www " ] && echo "${d#/proc/}"; done; }
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

