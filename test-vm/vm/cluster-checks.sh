#!/usr/bin/env bash
# Cluster checks run on a server once every node has joined (the Vagrantfile's last step):
#   cluster-checks.sh N [--keep]
# waits for N nodes Ready, starts one web pod per node and a NodePort Service over them, then checks
#   - from every pod: every pod IP, both backends through the ClusterIP, and both backends through
#     every node's NodePort (one `kubectl exec` per pod: under TCG each exec costs seconds);
#   - from this node itself (its own network, not a pod's): both backends through the ClusterIP and
#     through every node's NodePort;
#   - with the IPVS proxy (proxy-mode in /etc/k8ts/config.yaml, or K8TS_PROXY_MODE): this node's
#     IPVS virtual servers for the ClusterIP and its NodePort, with both pods as real servers;
#   - NetworkPolicy through the Service from a client pod on this node: an ingress policy on the web
#     pods keeps it out until it carries the allowed label, and an egress policy allowing it the web
#     pods lets it reach both through their ClusterIP.
# --keep leaves the pods and the Service in place (test-vm/vm/guest-check.sh goes on with them) and
# K8TS_CHECK_FACTS=FILE writes what the other nodes need to check them (vip, port, nodeport, ips,
# nodeips, pods) as shell assignments.
# Needs kubectl (K8TS_KUBECTL, default k8ts-kubectl) and the test image imported on every node.
set -euo pipefail
want=${1:?usage: cluster-checks.sh NODES [--keep]}
keep=${2:-}
kubectl=${K8TS_KUBECTL:-k8ts-kubectl}
image=${K8TS_TEST_IMAGE:-docker.io/k8ts/busybox:test}
mode=${K8TS_PROXY_MODE:-$(sed -n 's/^proxy-mode: *//p' /etc/k8ts/config.yaml 2>/dev/null || true)}
k() { "$kubectl" "$@"; }
fail() { echo "cluster-checks: FAIL: $*" >&2; exit 1; }
t0=$(date +%s)
elapsed() { echo "$(($(date +%s) - t0)) s"; }
# hget and backends_seen, from this node's own network.
. "$(dirname "$(readlink -f "$0")")/http-lib.sh"

echo "cluster-checks: waiting for $want nodes Ready"
for _ in $(seq 300); do
  ready=$(k get nodes --no-headers 2>/dev/null | awk '$2 == "Ready"' | wc -l)
  [ "$ready" -ge "$want" ] && break
  sleep 2
done
k get nodes -o wide
[ "$ready" -ge "$want" ] || fail "$ready of $want nodes Ready"

# One web pod per node, pinned, answering with its node's name; one NodePort Service over them
# (a NodePort Service has a ClusterIP too: both paths from one object).
k delete pod -l app=k8ts-check --ignore-not-found --wait=true >/dev/null
k delete service k8ts-check --ignore-not-found >/dev/null
nodes=$(k get nodes -o jsonpath='{.items[*].metadata.name}')
{
  for node in $nodes; do
    cat <<EOF
---
apiVersion: v1
kind: Pod
metadata: {name: check-$node, labels: {app: k8ts-check}}
spec:
  nodeName: $node
  containers:
  - name: web
    image: $image
    imagePullPolicy: Never
    command: [sh, -c, 'mkdir -p /www && echo $node >/www/index.html && exec httpd -f -p 8080 -h /www']
EOF
  done
  cat <<EOF
---
apiVersion: v1
kind: Service
metadata: {name: k8ts-check}
spec: {type: NodePort, selector: {app: k8ts-check}, ports: [{port: 80, targetPort: 8080}]}
EOF
} | k apply -f - >/dev/null
k wait pod -l app=k8ts-check --for=condition=Ready --timeout=300s >/dev/null
k get pods -l app=k8ts-check -o wide
echo "cluster-checks: pods Ready after $(elapsed)"
ips=$(k get pods -l app=k8ts-check -o jsonpath='{.items[*].status.podIP}')
vip=$(k get service k8ts-check -o jsonpath='{.spec.clusterIP}')
np=$(k get service k8ts-check -o jsonpath='{.spec.ports[0].nodePort}')
nodeips=$(k get nodes -o jsonpath='{.items[*].status.addresses[?(@.type=="InternalIP")].address}')
[ "$(wc -w <<<"$ips")" -ge "$want" ] || fail "pod IPs: \"$ips\""
[ -n "$vip" ] && [ -n "$np" ] || fail "service k8ts-check has no ClusterIP or NodePort"

# From each pod, in one exec: every pod IP, the ClusterIP and every node's NodePort (until two
# backends answer, at most 12 requests each). With nc, not wget: the image's static busybox wget
# segfaults in the qemu test VM (exit 139, also outside any container), while nc and httpd work.
# shellcheck disable=SC2016
probe='get() { printf "GET / HTTP/1.0\r\n\r\n" | nc -w 5 "$1" "$2" 2>/dev/null | tail -1; }
both() { a=; for i in 1 2 3 4 5 6 7 8 9 10 11 12; do b=$(get "$2" "$3"); echo "$1 $b"; [ -n "$b" ] && [ -n "$a" ] && [ "$b" != "$a" ] && return; [ -n "$b" ] && a=$b; done; }
ips=$1 vip=$2 np=$3 nodeips=$4
for ip in $ips; do echo "pod-$ip $(get "$ip" 8080)"; done
both vip "$vip" 80
for n in $nodeips; do both "np-$n" "$n" "$np"; done'
for pod in $(k get pods -l app=k8ts-check -o jsonpath='{.items[*].metadata.name}'); do
  out=$(k exec "$pod" -- sh -c "$probe" probe "$ips" "$vip" "$np" "$nodeips") || fail "kubectl exec in $pod failed: $out"
  for ip in $ips; do
    [ -n "$(awk -v k="pod-$ip" '$1 == k && NF > 1' <<<"$out")" ] || fail "$pod cannot reach pod $ip"
  done
  for key in vip $(for n in $nodeips; do echo "np-$n"; done); do
    seen=$(awk -v k="$key" '$1 == k && NF > 1 { print $2 }' <<<"$out" | sort -u | wc -l)
    [ "$seen" -ge 2 ] || fail "$pod reached $seen backend(s) through $key (vip $vip:80, NodePort $np): $(tr '\n' ' ' <<<"$out")"
  done
  echo "cluster-checks: $pod reaches every pod, and both backends through $vip:80 and through NodePort $np of $nodeips"
done

# From this node itself: the ClusterIP and every node's NodePort.
host=$(hostname)
for hp in "$vip:80" $(for n in $nodeips; do echo "$n:$np"; done); do
  seen=$(backends_seen "${hp%:*}" "${hp#*:}")
  [ "$(wc -w <<<"$seen")" -ge 2 ] || fail "node $host reached only \"$seen\" through $hp"
  echo "cluster-checks: node $host reaches both backends through $hp: $seen"
done

if [ "$mode" = ipvs ]; then
  command -v ipvsadm >/dev/null || fail "proxy mode ipvs but no ipvsadm on this node"
  myip=$(k get node "$host" -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}')
  want_real=$(for ip in $ips; do echo "$ip:8080"; done | sort | tr '\n' ' ')
  for hp in "$vip:80" "$myip:$np"; do
    real=$(ipvsadm -Ln -t "$hp" | sed -n 's/^ *-> \([0-9.]*:[0-9]*\) .*/\1/p' | sort | tr '\n' ' ')
    [ "$real" = "$want_real" ] || fail "IPVS virtual server $hp on $host has real servers \"$real\", want \"$want_real\""
    echo "cluster-checks: IPVS virtual server TCP $hp on $host → $real"
  done
fi

# NetworkPolicy through the Service, from a client pod on this node: judged against the endpoints
# (after the proxy's DNAT), also for the endpoint on this very node. With the IPVS proxy that path
# leaves through output, not forward (netplugins/netpol/compile.ts). nc -w 2 and few tries: a
# dropped connection costs its whole timeout under TCG.
# shellcheck disable=SC2016
vipProbe='for i in 1 2 3 4 5 6; do printf "GET / HTTP/1.0\r\n\r\n" | nc -w 2 "$0" 80 2>/dev/null | tail -1; done | sort -u | tr "\n" " "'
# Distinct backends the client reaches through the ClusterIP, retried until the test (a shell
# condition on $got) holds: a policy change takes effect within a sync on each node.
client_sees() {
  local test=$1 got=''
  for _ in $(seq 10); do
    got=$(k exec k8ts-check-client -- sh -c "$vipProbe" "$vip" 2>/dev/null || true)
    if eval "$test"; then echo "$got"; return 0; fi
    sleep 1
  done
  echo "$got"; return 1
}
cat <<EOF | k apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: {name: k8ts-check-client}
spec:
  nodeName: $host
  containers: [{name: c, image: $image, imagePullPolicy: Never, command: [sleep, '3600']}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: k8ts-check-ingress}
spec:
  podSelector: {matchLabels: {app: k8ts-check}}
  policyTypes: [Ingress]
  ingress: [{from: [{podSelector: {matchLabels: {k8ts-check-client: 'yes'}}}], ports: [{port: 8080}]}]
EOF
k wait pod k8ts-check-client --for=condition=Ready --timeout=120s >/dev/null || fail "pod k8ts-check-client not Ready"
seen=$(client_sees '[ -z "${got// /}" ]') || fail "ingress allowed only from k8ts-check-client=yes, yet the unlabelled client reached \"$seen\" through $vip:80"
echo "cluster-checks: netpol: an ingress policy keeps the unlabelled client from both backends through $vip:80"
k label pod k8ts-check-client k8ts-check-client=yes >/dev/null
seen=$(client_sees '[ "$(wc -w <<<"$got")" -ge 2 ]') || fail "the client labelled k8ts-check-client=yes reached only \"$seen\" through $vip:80"
echo "cluster-checks: netpol: labelled, the client reaches both backends through $vip:80: $seen"
cat <<EOF | k apply -f - >/dev/null
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: k8ts-check-egress}
spec:
  podSelector: {matchLabels: {k8ts-check-client: 'yes'}}
  policyTypes: [Egress]
  egress: [{to: [{podSelector: {matchLabels: {app: k8ts-check}}}], ports: [{port: 8080}]}]
EOF
seen=$(client_sees '[ "$(wc -w <<<"$got")" -ge 2 ]') || fail "egress allowed to the app=k8ts-check pods on 8080, yet the client reached only \"$seen\" through their Service $vip:80"
echo "cluster-checks: netpol: an egress policy to the pods lets the client reach both through their Service: $seen"
k delete networkpolicy k8ts-check-ingress k8ts-check-egress >/dev/null
k delete pod k8ts-check-client --wait=false >/dev/null

if [ -n "${K8TS_CHECK_FACTS:-}" ]; then
  pods=$(k get pods -l app=k8ts-check -o jsonpath='{range .items[*]}{.metadata.name}={.status.podIP} {end}')
  printf "vip='%s'\nport=80\nnodeport='%s'\nips='%s'\nnodeips='%s'\npods='%s'\n" "$vip" "$np" "$ips" "$nodeips" "$pods" >"$K8TS_CHECK_FACTS"
fi
if [ "$keep" != --keep ]; then
  k delete service k8ts-check >/dev/null
  k delete pod -l app=k8ts-check --wait=false >/dev/null
fi
echo "cluster-checks: all passed ($(elapsed))"
