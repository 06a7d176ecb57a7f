#!/bin/sh
# Runs inside the test VM (systemd is PID 1), started by k8ts-vmtest.service with the working copy
# at /mnt/src and the run's folder (the test image, results, files between the VMs) at /mnt/run.
# Installs k8ts with install.sh as a user would, and checks what only a real systemd and a full
# kernel show:
#   - the kernel has IPVS and dummy links (modprobe, lsmod, ipvsadm, a dummy link);
#   - k8ts-server.service is active and its node Ready (kubectl);
#   - with agent VMs (vmtest.agents=N): they join; cluster-checks.sh (the Vagrantfile's last step)
#     checks pods on every node reaching each other, a ClusterIP and every node's NodePort, from
#     each pod and from this node, and with the IPVS proxy this node's virtual and real servers;
#     the agents check the same Service from their own node (guest-agent.sh); `k8ts trace` from
#     this node's pod to the Service must show the path the proxy mode programs (IPVS: the
#     virtual server and both real servers) and a probe packet confirming it; `systemctl restart
#     k8ts-agent` does not restart the agents' pods;
#   - `systemctl restart k8ts-server` keeps a pod's container running (KillMode=process), and
#     systemd restarts the service when k8ts dies (Restart=always);
#   - `k8ts uninstall` leaves no unit, file, container, rule, interface or namespace behind.
# Each step prints `vmcheck: <step> ok|FAIL <seconds since boot>`; the exit code is the verdict.
. /mnt/src/test-vm/vm/guest-lib.sh
# kubectl is in the image (build-image.sh).
kubectl="kubectl --kubeconfig /var/lib/k8ts/kubeconfig.yaml"
proxy=$(arg proxy)

# Install as a user would: install.sh from the working copy (the Debian packages are in the image).
t0=$(up)
# The modes the run chose (vmtest.network, vmtest.proxy) go to config.yaml as a user's flags would.
if bash /mnt/src/install.sh -- $modes 2>&1; then ok "install.sh($(since "$t0")s)"; else fail install.sh; finish; fi
check kubeconfig until_ok 'test -f /var/lib/k8ts/kubeconfig.yaml' 240
# The join token, for the agents (installed meanwhile, waiting for it to start their service).
if [ "$agents" -gt 0 ]; then publish join-token </var/lib/k8ts/token || fail join-token; fi
check unit-active until_ok 'systemctl is-active --quiet k8ts-server' 120
settings=$(systemctl show k8ts-server -p KillMode -p Delegate -p Restart -p LimitNOFILE | sort | tr '\n' ' ')
echo "vmcheck: unit settings: $settings"
check unit-settings [ "$settings" = "Delegate=yes KillMode=process LimitNOFILE=1048576 Restart=always " ]
check config-modes sh -c "grep -q '^network: $(arg network)' /etc/k8ts/config.yaml && grep -q '^proxy-mode: $proxy' /etc/k8ts/config.yaml"
check sysctl-ip_forward sh -c '[ "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 ] && [ "$(cat /proc/sys/net/bridge/bridge-nf-call-iptables)" = 1 ]'
check modules-loaded sh -c 'lsmod | grep -q "^br_netfilter " && lsmod | grep -q "^vxlan "'
check node-ready until_ok "$kubectl wait node --all --for=condition=Ready --timeout=30s" 240
# In the background, while the agents join (each only needs this node up): the image, and the
# operator's view (k8ts status: the unit, config.yaml's modes, the node Ready from the API).
/opt/k8ts/bin/k8ts images import /mnt/run/busybox.tar --data-dir /var/lib/k8ts/agent >/tmp/import.log 2>&1 &
import=$!
( until_ok "/usr/local/bin/k8ts status >/tmp/status.txt 2>&1; grep -q 'k8ts-server.service active' /tmp/status.txt && grep -q 'proxy $proxy' /tmp/status.txt && grep -q 'Ready=True' /tmp/status.txt" 180 && touch /tmp/status.ok ) &
status=$!
if [ "$agents" -gt 0 ]; then
  check agents-joined until_ok "[ \$($kubectl get nodes --no-headers | grep -c ' Ready ') -ge $((agents + 1)) ]" 900
  $kubectl get nodes -o wide
  for n in $(seq "$agents"); do check "agent$n-image" until_file "image-agent$n" 600; done
fi
wait "$status"
check k8ts-status test -e /tmp/status.ok
sed 's/^/k8ts-status: /' /tmp/status.txt
wait "$import" || { cat /tmp/import.log; fail image-import; }

if [ "$agents" -gt 0 ]; then
  # The Vagrantfile's last step, across the VMs; its pods and Service stay for the checks below.
  t0=$(up)
  if KUBECONFIG=/var/lib/k8ts/kubeconfig.yaml K8TS_KUBECTL=kubectl K8TS_TEST_IMAGE="$image" K8TS_CHECK_FACTS=/tmp/service-facts \
    bash /mnt/src/test-vm/vm/cluster-checks.sh $((agents + 1)) --keep 2>&1; then
    ok "cluster-checks($(since "$t0")s)"
  else
    fail cluster-checks; finish
  fi
  # The agents check the Service from their own node meanwhile (guest-agent.sh).
  publish service-facts </tmp/service-facts
  . /tmp/service-facts
  server_pod=check-$name
  # k8ts trace from this node's pod to the Service: computed from this node's kernel state and
  # confirmed by a real probe packet. With IPVS: the virtual server and both real servers.
  t0=$(up)
  /usr/local/bin/k8ts trace --from "$server_pod" --to k8ts-check >/tmp/trace.txt 2>&1
  code=$?
  sed 's/^/k8ts-trace: /' /tmp/trace.txt
  echo "vmcheck: k8ts trace exited $code after $(since "$t0") s"
  check trace-exit [ "$code" = 0 ]
  check trace-confirmed grep -q '^  confirmed: DNAT to ' /tmp/trace.txt
  trace_has_endpoints() { for pip in $ips; do grep -q "^ *$pip:8080  p=50%" /tmp/trace.txt && grep -q "POD $pip:8080: " /tmp/trace.txt || return 1; done; }
  check trace-endpoints trace_has_endpoints
  if [ "$proxy" = ipvs ]; then
    check trace-ipvs-vs grep -q "SVC: DNAT in ipvs/TCP $vip:80 to one of 2 endpoint(s)" /tmp/trace.txt
    check trace-ipvs-local grep -q "$vip is a local address (an IPVS virtual server): input" /tmp/trace.txt
  fi
  # The same through this node's NodePort.
  /usr/local/bin/k8ts trace --from "$server_pod" --to k8ts-check --node-port >/tmp/trace-np.txt 2>&1
  code=$?
  sed 's/^/k8ts-trace-nodeport: /' /tmp/trace-np.txt
  check trace-nodeport [ "$code" = 0 ]
  if [ "$proxy" = ipvs ]; then check trace-nodeport-ipvs-vs grep -q "SVC: DNAT in ipvs/TCP ${ip%/*}:$nodeport to one of 2 endpoint(s)" /tmp/trace-np.txt; fi

  # Each agent restarts k8ts-agent under its check pod once it has checked the Service; the pod
  # must not be restarted, and the agent's node must come back Ready.
  for n in $(seq "$agents"); do
    check "agent$n-restarted" until_file "restarted-agent$n" 600
    check "agent$n-ready-after-restart" until_ok "$kubectl wait node/k8ts-agent$n --for=condition=Ready --timeout=30s" 300
    check "agent$n-pod-not-restarted" sh -c "[ \"\$($kubectl get pod check-k8ts-agent$n -o jsonpath='{.status.containerStatuses[0].restartCount}')\" = 0 ]"
  done
  touch /mnt/run/server-checked-agents
else
  $kubectl run "check-$name" --image="$image" --image-pull-policy=Never --restart=Never --command -- sh -c 'mkdir -p /www && exec httpd -f -p 8080 -h /www' >/dev/null
  server_pod=check-$name
fi

# This node's check pod, and its container across a restart of the service.
check pod-running until_ok "$kubectl wait pod/$server_pod --for=condition=Ready --timeout=30s" 240
before=$(pid_of_httpd)
main_before=$(systemctl show k8ts-server -p MainPID --value)
echo "vmcheck: container pid $before, k8ts pid $main_before"
t0=$(up)
systemctl restart k8ts-server
check restart-active until_ok 'systemctl is-active --quiet k8ts-server' 60
check restart-node-ready until_ok "$kubectl wait node --all --for=condition=Ready --timeout=30s" 240
echo "vmcheck: restart to Ready took $(since "$t0") s"
check restart-kept-container sh -c "[ -n '$before' ] && [ \"\$(cat /proc/$before/cmdline 2>/dev/null | tr '\\0' ' ')\" = 'httpd -f -p 8080 -h /www ' ]"
check restart-pod-not-restarted sh -c "[ \"\$($kubectl get pod $server_pod -o jsonpath='{.status.containerStatuses[0].restartCount}')\" = 0 ]"
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
check gone-container sh -c "[ ! -d /proc/$before ] && ! pgrep -f '[c]ontainerd' >/dev/null || { ps -eo pid,stat,args | grep '[c]ontainerd\|[h]ttpd' | sed 's/^/vmcheck: left: /'; exit 1; }"
[ -z "$(pid_of_httpd)" ] || fail gone-httpd
check gone-netns sh -c '[ -z "$(ip netns list | grep ^k8ts)" ]'
check gone-links sh -c '! ip -o link show | grep -q ": k8ts\|kube-ipvs0"'
check gone-nft sh -c '! nft list tables | grep -q k8ts'
check gone-ipvs sh -c '[ -z "$(ipvsadm -Sn 2>/dev/null)" ]'
check gone-mounts sh -c '! grep -qE " /(var/lib/k8ts|run/k8ts)" /proc/self/mounts'
finish
