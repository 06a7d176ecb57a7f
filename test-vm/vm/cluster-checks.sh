#!/usr/bin/env bash
# Cluster checks run on a server once every node has joined (the Vagrantfile's last step):
#   cluster-checks.sh N     waits for N nodes Ready, then checks pod-to-pod traffic across nodes
#                           and a ClusterIP Service reached from every node's pod.
# Needs kubectl (K8TS_KUBECTL, default k8ts-kubectl) and the test image imported on every node.
set -euo pipefail
want=${1:?usage: cluster-checks.sh NODES}
kubectl=${K8TS_KUBECTL:-k8ts-kubectl}
image=${K8TS_TEST_IMAGE:-docker.io/k8ts/busybox:test}
k() { "$kubectl" "$@"; }
fail() { echo "cluster-checks: FAIL: $*" >&2; exit 1; }
# An HTTP GET from a pod, answered with the body's last line (the serving pod's node). With nc, not
# wget: the image's static busybox wget segfaults in the qemu test VM (exit 139, also outside any
# container), while nc and httpd work.
get() { k exec "$1" -- sh -c "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5 $2 $3" | tail -1; }
# On a failed request: whether exec itself works in that pod, to tell the network from the tooling.
why() { k exec "$1" -- sh -c 'echo "cluster-checks: exec in $(hostname) works"' >&2 || echo "cluster-checks: exec in $1 fails too" >&2; }

echo "cluster-checks: waiting for $want nodes Ready"
for _ in $(seq 300); do
  ready=$(k get nodes --no-headers 2>/dev/null | awk '$2 == "Ready"' | wc -l)
  [ "$ready" -ge "$want" ] && break
  sleep 2
done
k get nodes -o wide
[ "$ready" -ge "$want" ] || fail "$ready of $want nodes Ready"

# One web pod per node, pinned, answering with its node's name.
k delete pod -l app=k8ts-check --ignore-not-found --wait=true >/dev/null
for node in $(k get nodes -o jsonpath='{.items[*].metadata.name}'); do
  k apply -f - >/dev/null <<EOF
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
k apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Service
metadata: {name: k8ts-check}
spec: {selector: {app: k8ts-check}, ports: [{port: 80, targetPort: 8080}]}
EOF
k wait pod -l app=k8ts-check --for=condition=Ready --timeout=300s >/dev/null
k get pods -l app=k8ts-check -o wide
ips=$(k get pods -l app=k8ts-check -o jsonpath='{.items[*].status.podIP}')
vip=$(k get service k8ts-check -o jsonpath='{.spec.clusterIP}')

for pod in $(k get pods -l app=k8ts-check -o jsonpath='{.items[*].metadata.name}'); do
  for ip in $ips; do
    [ -n "$(get "$pod" "$ip" 8080)" ] || { why "$pod"; fail "$pod cannot reach pod $ip"; }
  done
  seen=$(for _ in $(seq 12); do get "$pod" "$vip" 80 || true; done | sort -u | wc -l)
  [ "$seen" -ge 2 ] || fail "$pod reached only $seen backend(s) through the ClusterIP $vip"
  echo "cluster-checks: $pod reaches every pod and $seen backends through $vip"
done
k delete service k8ts-check >/dev/null
k delete pod -l app=k8ts-check --wait=false >/dev/null
echo "cluster-checks: all passed"
