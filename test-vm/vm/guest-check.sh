#!/bin/sh
# Runs inside the test VM (systemd is PID 1), started by k8ts-vmtest.service with the working copy
# at /mnt/src and the run's folder (kubectl, the test image, results) at /mnt/run. Installs k8ts
# with install.sh as a user would, and checks what only a real systemd and a full kernel show:
#   - the kernel has IPVS and dummy links (modprobe, lsmod, ipvsadm, a dummy link);
#   - k8ts-server.service is active and its node Ready (kubectl);
#   - with agent VMs (vmtest.agents=N): they join, pods on every node reach each other and a
#     ClusterIP Service from every node (cluster-checks.sh: the agents' own kube-proxy), and
#     `systemctl restart k8ts-agent` does not restart their pods;
#   - `systemctl restart k8ts-server` keeps a pod's container running (KillMode=process), and
#     systemd restarts the service when k8ts dies (Restart=always);
#   - `k8ts uninstall` leaves no unit, file, container, rule, interface or namespace behind.
# Each step prints `vmcheck: <step> ok|FAIL <seconds since boot>`; the exit code is the verdict.
. /mnt/src/test-vm/vm/guest-lib.sh
kubectl="/mnt/run/kubectl --kubeconfig /var/lib/k8ts/kubeconfig.yaml"

# Install as a user would: install.sh from the working copy (the Debian packages are in the image).
t0=$(up)
# The modes the run chose (vmtest.network, vmtest.proxy) go to config.yaml as a user's flags would.
if bash /mnt/src/install.sh -- $modes 2>&1; then ok "install.sh($(since "$t0")s)"; else fail install.sh; finish; fi
check unit-active until_ok 'systemctl is-active --quiet k8ts-server' 120
settings=$(systemctl show k8ts-server -p KillMode -p Delegate -p Restart -p LimitNOFILE | sort | tr '\n' ' ')
echo "vmcheck: unit settings: $settings"
check unit-settings [ "$settings" = "Delegate=yes KillMode=process LimitNOFILE=1048576 Restart=always " ]
check config-modes sh -c "grep -q '^network: $(arg network)' /etc/k8ts/config.yaml && grep -q '^proxy-mode: $(arg proxy)' /etc/k8ts/config.yaml"
check sysctl-ip_forward sh -c '[ "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 ] && [ "$(cat /proc/sys/net/bridge/bridge-nf-call-iptables)" = 1 ]'
check modules-loaded sh -c 'lsmod | grep -q "^br_netfilter " && lsmod | grep -q "^vxlan "'
check kubeconfig until_ok 'test -f /var/lib/k8ts/kubeconfig.yaml' 120
check node-ready until_ok "$kubectl wait node --all --for=condition=Ready --timeout=10s" 240
$kubectl get nodes -o wide
# The operator's view (k8ts status: the unit, config.yaml's modes, the node Ready from the API).
check k8ts-status until_ok "/usr/local/bin/k8ts status >/tmp/status.txt 2>&1; grep -q 'k8ts-server.service active' /tmp/status.txt && grep -q 'proxy $(arg proxy)' /tmp/status.txt && grep -q 'Ready=True' /tmp/status.txt" 120
sed 's/^/k8ts-status: /' /tmp/status.txt
/opt/k8ts/bin/k8ts images import /mnt/run/busybox.tar --data-dir /var/lib/k8ts/agent >/dev/null 2>&1 || fail image-import

# Agent VMs (vmtest.agents=N) join with the join token; each gets a pod, restarts its k8ts-agent
# (guest-agent.sh) and the pod must not be restarted.
if [ "$agents" -gt 0 ]; then
  cp /var/lib/k8ts/token /mnt/run/join-token
  check agents-joined until_ok "[ \$($kubectl get nodes --no-headers | grep -c ' Ready ') -ge $((agents + 1)) ]" 900
  $kubectl get nodes -o wide
  for n in $(seq "$agents"); do check "agent$n-image" until_file "image-agent$n" 600; done
  # The Vagrantfile's last step, across the VMs: pod to pod, and a ClusterIP Service from a pod on
  # every node (on an agent, through that agent's own kube-proxy).
  t0=$(up)
  if KUBECONFIG=/var/lib/k8ts/kubeconfig.yaml K8TS_KUBECTL=/mnt/run/kubectl K8TS_TEST_IMAGE="$image" bash /mnt/src/test-vm/vm/cluster-checks.sh $((agents + 1)) 2>&1; then
    ok "cluster-checks($(since "$t0")s)"
  else
    fail cluster-checks
  fi
  for n in $(seq "$agents"); do
    $kubectl run "sleeper-agent$n" --image="$image" --image-pull-policy=Never --restart=Never \
      --overrides="{\"spec\":{\"nodeName\":\"k8ts-agent$n\"}}" --command -- sleep 1000001 >/dev/null
  done
  for n in $(seq "$agents"); do
    check "agent$n-pod-running" until_ok "$kubectl wait pod/sleeper-agent$n --for=condition=Ready --timeout=10s" 600
    touch "/mnt/run/pod-ready-agent$n"
  done
  for n in $(seq "$agents"); do
    check "agent$n-restarted" until_file "restarted-agent$n" 600
    check "agent$n-ready-after-restart" until_ok "$kubectl wait node/k8ts-agent$n --for=condition=Ready --timeout=10s" 300
    check "agent$n-pod-not-restarted" sh -c "[ \"\$($kubectl get pod sleeper-agent$n -o jsonpath='{.status.containerStatuses[0].restartCount}')\" = 0 ]"
    $kubectl delete pod "sleeper-agent$n" --wait=false >/dev/null
  done
  touch /mnt/run/server-checked-agents
fi

# A pod, and its container across a restart of the service.
$kubectl run sleeper --image="$image" --image-pull-policy=Never --restart=Never --command -- sleep 1000000 >/dev/null
check pod-running until_ok "$kubectl wait pod/sleeper --for=condition=Ready --timeout=10s" 240
pid_of_sleep() { for d in /proc/[0-9]*; do [ "$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null)" = "sleep 1000000 " ] && echo "${d#/proc/}"; done; }
before=$(pid_of_sleep)
main_before=$(systemctl show k8ts-server -p MainPID --value)
echo "vmcheck: container pid $before, k8ts pid $main_before"
t0=$(up)
systemctl restart k8ts-server
check restart-active until_ok 'systemctl is-active --quiet k8ts-server' 60
check restart-node-ready until_ok "$kubectl wait node --all --for=condition=Ready --timeout=10s" 240
echo "vmcheck: restart to Ready took $(since "$t0") s"
check restart-kept-container sh -c "[ -n '$before' ] && [ \"\$(cat /proc/$before/cmdline 2>/dev/null | tr '\\0' ' ')\" = 'sleep 1000000 ' ]"
check restart-pod-not-restarted sh -c "[ \"\$($kubectl get pod sleeper -o jsonpath='{.status.containerStatuses[0].restartCount}')\" = 0 ]"
main=$(systemctl show k8ts-server -p MainPID --value)
kill -9 "$main"
check restart-always until_ok "[ \"\$(systemctl show k8ts-server -p MainPID --value)\" != '$main' ] && [ \"\$(systemctl show k8ts-server -p MainPID --value)\" != 0 ]" 60
check after-crash-container-alive sh -c "[ -d /proc/$before ]"

# Uninstall leaves nothing behind.
t0=$(up)
if /usr/local/bin/k8ts-uninstall.sh >/tmp/uninstall.log 2>&1; then ok "uninstall($(since "$t0")s)"; else fail uninstall; fi
cat /tmp/uninstall.log
check gone-unit sh -c '! systemctl cat k8ts-server >/dev/null 2>&1 && [ ! -e /etc/systemd/system/k8ts-server.service ]'
check gone-files sh -c 'for p in /opt/k8ts /usr/local/bin/k8ts /usr/local/bin/k8ts-killall.sh /etc/k8ts /etc/sysctl.d/90-k8ts.conf /etc/modules-load.d/k8ts.conf /var/lib/k8ts /var/log/pods /etc/cni/net.d/10-k8ts.conflist /opt/cni/bin/k8ts-cni; do [ ! -e "$p" ] || { echo "left: $p"; exit 1; }; done'
# '[c]ontainerd': the pattern must not match this check's own command line.
check gone-container sh -c "[ ! -d /proc/$before ] && ! pgrep -f '[c]ontainerd' >/dev/null" || ps -eo pid,args | grep '[c]ontainerd\|[s]leep'
[ -z "$(pid_of_sleep)" ] || fail gone-sleep
check gone-netns sh -c '[ -z "$(ip netns list | grep ^k8ts)" ]'
check gone-links sh -c '! ip -o link show | grep -q ": k8ts"'
check gone-nft sh -c '! nft list tables | grep -q k8ts'
check gone-mounts sh -c '! grep -qE " /(var/lib/k8ts|run/k8ts)" /proc/self/mounts'
finish
