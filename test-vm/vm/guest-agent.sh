#!/bin/sh
# An agent VM (run-check.sh with K8TS_VM_AGENTS=N). Installs k8ts at once, while the server VM
# installs its own, with `install.sh --no-start --server URL -- --token-file F` (k3s'
# INSTALL_K3S_SKIP_START: install now, start when the server is up), then starts k8ts-agent.service
# once the server has made the join token; checks the Service cluster-checks.sh made from this
# node (IPVS virtual and real servers, the ClusterIP and every node's NodePort), restarts
# k8ts-agent under its check pod (guest-check.sh checks the pod was not restarted), and uninstalls.
. /mnt/src/test-vm/vm/guest-lib.sh
server=$(arg server)
proxy=$(arg proxy)
n=${name#k8ts-agent}
myip=${ip%/*}

t0=$(up)
# The token file does not exist yet: `--token-file` after `--` is the agent's own flag, kept in
# config.yaml and read when the service starts (install's own --token-file would copy it now).
if bash /mnt/src/install.sh --no-start --server "https://$server:6443" -- --token-file /mnt/run/join-token --node-ip "$myip" $modes 2>&1; then
  ok "install.sh($(since "$t0")s)"
else
  fail install.sh; finish
fi
check unit-enabled systemctl is-enabled --quiet k8ts-agent
settings=$(systemctl show k8ts-agent -p KillMode -p Delegate -p Restart -p LimitNOFILE | sort | tr '\n' ' ')
check unit-settings [ "$settings" = "Delegate=yes KillMode=process LimitNOFILE=1048576 Restart=always " ]
check config-modes sh -c "grep -q '^network: $(arg network)' /etc/k8ts/config.yaml && grep -q '^proxy-mode: $proxy' /etc/k8ts/config.yaml && grep -q '^token-file:.*/mnt/run/join-token' /etc/k8ts/config.yaml"
check join-token until_file join-token 900
systemctl start k8ts-agent
check unit-active until_ok 'systemctl is-active --quiet k8ts-agent' 120
check image-import until_ok '/opt/k8ts/bin/k8ts images import /mnt/run/busybox.tar' 300
touch "/mnt/run/image-agent$n"
# The agent runs this node's kube-proxy and network in its own process (k3s' model): its rules are
# here, in the mode config.yaml chose.
case "$proxy" in
  ipvs) check agent-proxy-rules until_ok 'ipvsadm -Ln | grep -q "^TCP  10.43.0.1:443" && ip link show kube-ipvs0' 120 ;;
  iptables) check agent-proxy-rules until_ok 'iptables-save -t nat | grep -q "^:KUBE-SERVICES"' 120 ;;
  *) check agent-proxy-rules until_ok 'nft list table ip k8ts-proxy >/dev/null' 120 ;;
esac
# The operator's view of the same (k8ts status: unit, config modes, node Ready from the API, rules).
check k8ts-status until_ok "/usr/local/bin/k8ts status >/tmp/status.txt 2>&1; grep -q 'k8ts-agent.service active' /tmp/status.txt && grep -q 'proxy $proxy' /tmp/status.txt && grep -q 'Ready=True' /tmp/status.txt" 120
sed 's/^/k8ts-status: /' /tmp/status.txt
[ "$(arg network)" != vxlan ] || check agent-vxlan-device until_ok 'ip -d link show k8ts.1 | grep -q "vxlan id 1"' 120

# The Service cluster-checks.sh made on the server (a pod on each node behind a ClusterIP and a
# NodePort), from this node: its own kube-proxy's view and traffic from this node's network.
check service-facts until_file service-facts 900
service_facts
echo "vmcheck: service $vip:$port NodePort $nodeport, pods $pods"
if [ "$proxy" = ipvs ]; then
  # Printed once more after the wait, to show what was found.
  check ipvs-clusterip retry 60 ipvs_has "$vip" "$port"
  ipvs_has "$vip" "$port"
  check ipvs-nodeport retry 60 ipvs_has "$myip" "$nodeport"
  ipvs_has "$myip" "$nodeport"
fi
check node-clusterip both_backends "$vip" "$port"
for nip in $nodeips; do check "node-nodeport-$nip" both_backends "$nip" "$nodeport"; done

# Its check pod's container must outlive a restart of k8ts-agent (KillMode=process), and the
# Service must keep working through this node's proxy afterwards.
before=$(pid_of_httpd)
echo "vmcheck: container pid $before"
systemctl restart k8ts-agent
check restart-active until_ok 'systemctl is-active --quiet k8ts-agent' 60
same_container() { [ -n "$before" ] && [ "$(pid_of_httpd)" = "$before" ]; }
check restart-kept-container same_container
ipvs_kept() { ipvs_has "$vip" "$port" && ipvs_has "$myip" "$nodeport"; }
[ "$proxy" != ipvs ] || check restart-ipvs-kept ipvs_kept
check restart-node-clusterip both_backends "$vip" "$port"
touch "/mnt/run/restarted-agent$n"

check server-done until_file server-checked-agents 900
t0=$(up)
if /usr/local/bin/k8ts-uninstall.sh 2>&1; then ok "uninstall($(since "$t0")s)"; else fail uninstall; fi
check gone-files sh -c 'for p in /opt/k8ts /etc/k8ts /etc/systemd/system/k8ts-agent.service /var/lib/k8ts /var/log/pods; do [ ! -e "$p" ] || { echo "left: $p"; exit 1; }; done'
check gone-container sh -c "[ ! -d /proc/$before ] && ! pgrep -f '[c]ontainerd' >/dev/null || { ps -eo pid,stat,args | grep '[c]ontainerd\|[h]ttpd' | sed 's/^/vmcheck: left: /'; exit 1; }"
check gone-netns sh -c '[ -z "$(ip netns list | grep ^k8ts)" ]'
check gone-links sh -c '! ip -o link show | grep -q ": k8ts\|kube-ipvs0"'
check gone-nft sh -c '! nft list tables | grep -q k8ts'
check gone-ipvs sh -c '[ -z "$(ipvsadm -Sn 2>/dev/null)" ]'
finish
