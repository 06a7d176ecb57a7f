#!/bin/sh
# An agent VM (run-check.sh with K8TS_VM_AGENTS=N): joins the server VM with install.sh
# --server URL --token-file F, as a user would, then restarts k8ts-agent under its pod
# (guest-check.sh creates the pod and checks it was not restarted), and uninstalls.
. /mnt/src/test-vm/vm/guest-lib.sh
server=$(arg server)
n=${name#k8ts-agent}

check join-token until_file join-token 900
t0=$(up)
if bash /mnt/src/install.sh --server "https://$server:6443" --token-file /mnt/run/join-token -- --node-ip "${ip%/*}" $modes 2>&1; then
  ok "install.sh($(since "$t0")s)"
else
  fail install.sh; finish
fi
check unit-active until_ok 'systemctl is-active --quiet k8ts-agent' 120
settings=$(systemctl show k8ts-agent -p KillMode -p Delegate -p Restart -p LimitNOFILE | sort | tr '\n' ' ')
check unit-settings [ "$settings" = "Delegate=yes KillMode=process LimitNOFILE=1048576 Restart=always " ]
check config-modes sh -c "grep -q '^network: $(arg network)' /etc/k8ts/config.yaml && grep -q '^proxy-mode: $(arg proxy)' /etc/k8ts/config.yaml"
check image-import until_ok '/opt/k8ts/bin/k8ts images import /mnt/run/busybox.tar' 300
touch "/mnt/run/image-agent$n"
# The agent runs this node's kube-proxy and network in its own process (k3s' model): its rules are
# here, in the mode config.yaml chose.
case "$(arg proxy)" in
  ipvs) check agent-proxy-rules until_ok 'ipvsadm -Ln | grep -q "^TCP  10.43.0.1:443"' 120 ;;
  iptables) check agent-proxy-rules until_ok 'iptables-save -t nat | grep -q "^:KUBE-SERVICES"' 120 ;;
  *) check agent-proxy-rules until_ok 'nft list table ip k8ts-proxy >/dev/null' 120 ;;
esac
# The operator's view of the same (k8ts status: unit, config modes, node Ready from the API, rules).
check k8ts-status until_ok "/usr/local/bin/k8ts status >/tmp/status.txt 2>&1; grep -q 'k8ts-agent.service active' /tmp/status.txt && grep -q 'proxy $(arg proxy)' /tmp/status.txt && grep -q 'Ready=True' /tmp/status.txt" 120
sed 's/^/k8ts-status: /' /tmp/status.txt
[ "$(arg network)" != vxlan ] || check agent-vxlan-device until_ok 'ip -d link show k8ts.1 | grep -q "vxlan id 1"' 120

# The server VM schedules a pod here; its container must outlive a restart of k8ts-agent.
check pod-scheduled until_file "pod-ready-agent$n" 900
pid_of_sleep() { for d in /proc/[0-9]*; do [ "$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null)" = "sleep 1000001 " ] && echo "${d#/proc/}"; done; }
before=$(pid_of_sleep)
echo "vmcheck: container pid $before"
systemctl restart k8ts-agent
check restart-active until_ok 'systemctl is-active --quiet k8ts-agent' 60
check restart-kept-container sh -c "[ -n '$before' ] && [ -d /proc/$before ]"
touch "/mnt/run/restarted-agent$n"

check server-done until_file server-checked-agents 900
t0=$(up)
if /usr/local/bin/k8ts-uninstall.sh 2>&1; then ok "uninstall($(since "$t0")s)"; else fail uninstall; fi
check gone-files sh -c 'for p in /opt/k8ts /etc/k8ts /etc/systemd/system/k8ts-agent.service /var/lib/k8ts /var/log/pods; do [ ! -e "$p" ] || { echo "left: $p"; exit 1; }; done'
check gone-container sh -c "[ ! -d /proc/$before ] && ! pgrep -f '[c]ontainerd' >/dev/null"
check gone-netns sh -c '[ -z "$(ip netns list | grep ^k8ts)" ]'
check gone-links sh -c '! ip -o link show | grep -q ": k8ts"'
check gone-nft sh -c '! nft list tables | grep -q k8ts'
check gone-ipvs sh -c '[ -z "$(ipvsadm -Sn 2>/dev/null)" ]'
finish
