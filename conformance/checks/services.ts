// Services: upstream's "[sig-network] Services" and "Networking Granular Checks: Services" — a
// ClusterIP or NodePort reaches every endpoint, follows endpoint changes, keeps (or drops) client
// affinity, preserves the client's address where upstream says it must, and refuses clearly when
// nothing backs it.
import type { Pod, ServicePort, ServiceSpec } from 'kubernetes-types/core/v1.js';
import { CheckFailure, expectThat, type Check } from '../check.js';
import { exitReason, HTTP2_PORT, HTTP_PORT, normalizeClientAddress, UDP_PORT, type ConformanceCluster, type FixturePod } from '../cluster.js';

const services = '[sig-network] Services';
const granular = '[sig-network] Networking Granular Checks: Services should function for';

const httpPort: ServicePort = { name: 'http', port: 80, targetPort: HTTP_PORT, protocol: 'TCP' };
const udpPort: ServicePort = { name: 'udp', port: 90, targetPort: UDP_PORT, protocol: 'UDP' };
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

/** A Service over every netserver pod; returns its ClusterIP once all endpoints are ready. */
async function netserverService(c: ConformanceCluster, name: string, spec: Partial<ServiceSpec> = {}): Promise<{ ip: string; nodePorts: Record<string, number> }> {
  const svc = await c.createService(name, { selector: { app: 'netserver' }, ports: [httpPort, udpPort], ...spec });
  await c.waitForEndpoints(name, c.servers.length);
  const nodePorts = Object.fromEntries((svc.spec?.ports ?? []).filter(p => p.nodePort).map(p => [p.name ?? '', p.nodePort!]));
  return { ip: svc.spec?.clusterIP ?? '', nodePorts };
}

/** Extra server pods for checks that change their backends, spread over the nodes. */
async function extraServers(c: ConformanceCluster, prefix: string, count: number, labels: Record<string, string>, extra: Partial<NonNullable<Pod['spec']>> = {}): Promise<FixturePod[]> {
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  for (const [i, name] of names.entries()) {
    const node = c.nodes[i % c.nodes.length]!.name;
    await c.createPod(c.pod(name, node, labels, ['sh', '-c', `httpd -f -p ${HTTP_PORT} -h /var/www & udpecho -l ${UDP_PORT} & wait`], [
      { name: 'http', containerPort: HTTP_PORT }, { name: 'udp', containerPort: UDP_PORT, protocol: 'UDP' },
    ], extra));
  }
  const ips = await c.waitForPods(names);
  return names.map((name, i) => ({ name, node: c.nodes[i % c.nodes.length]!.name, ip: ips.get(name)! }));
}

async function hostnames(c: ConformanceCluster, from: FixturePod, ip: string, port: number, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(await c.http(from, ip, port));
  return out;
}

const distinct = (xs: readonly string[]) => [...new Set(xs)];

async function podToService(c: ConformanceCluster, protocol: 'http' | 'udp', from: FixturePod): Promise<void> {
  const { ip } = await netserverService(c, `pod-svc-${protocol}-${from.name}`);
  await c.reachAll(from, ip, protocol === 'http' ? 80 : 90, protocol, c.servers.map(s => s.name));
}

async function nodeToService(c: ConformanceCluster, protocol: 'http' | 'udp'): Promise<void> {
  const { ip, nodePorts } = await netserverService(c, `node-svc-${protocol}`, { type: 'NodePort' });
  const from = c.hosts[0]!;
  await c.reachAll(from, ip, protocol === 'http' ? 80 : 90, protocol, c.servers.map(s => s.name));
  for (const node of c.nodes) await c.reachAll(from, node.ip, nodePorts[protocol]!, protocol, c.servers.map(s => s.name));
}

async function multipleServices(c: ConformanceCluster): Promise<void> {
  const a = await netserverService(c, 'same-selector-a');
  const b = await netserverService(c, 'same-selector-b');
  for (const ip of [a.ip, b.ip]) await c.reachAll(c.clients[0]!, ip, 80, 'http', c.servers.map(s => s.name));
}

async function updateEndpoints(c: ConformanceCluster, protocol: 'http' | 'udp'): Promise<void> {
  const pods = await extraServers(c, `ep-${protocol}`, 2, { app: `ep-${protocol}` });
  const svc = await c.createService(`ep-update-${protocol}`, { selector: { app: `ep-${protocol}` }, ports: [httpPort, udpPort] });
  await c.waitForEndpoints(`ep-update-${protocol}`, 2);
  const ip = svc.spec?.clusterIP ?? '';
  const port = protocol === 'http' ? 80 : 90;
  await c.reachAll(c.clients[0]!, ip, port, protocol, pods.map(p => p.name));
  await c.deletePod(pods[0]!.name);
  await c.waitForEndpoints(`ep-update-${protocol}`, 1);
  for (let i = 0; i < 10; i++) {
    const answer = protocol === 'http' ? await c.http(c.clients[0]!, ip, port) : (await c.udp(c.clients[0]!, ip, port)).host;
    expectThat(answer === pods[1]!.name, `after ${pods[0]!.name} was deleted the service still answered from ${answer}`);
  }
}

async function affinityService(c: ConformanceCluster, name: string, spec: Partial<ServiceSpec>): Promise<{ ip: string; backends: FixturePod[] }> {
  const backends = await extraServers(c, `${name}-be`, 3, { app: name });
  const svc = await c.createService(name, { selector: { app: name }, ports: [httpPort], ...spec });
  await c.waitForEndpoints(name, 3);
  const ip = svc.spec?.clusterIP ?? '';
  await c.httpOnceReady(c.clients[0]!, ip, 80);
  return { ip, backends };
}

async function sessionAffinity(c: ConformanceCluster): Promise<void> {
  const { ip } = await affinityService(c, 'affinity', { sessionAffinity: 'ClientIP' });
  const seen = distinct(await hostnames(c, c.clients[0]!, ip, 80, 10));
  expectThat(seen.length === 1, `with ClientIP affinity 10 requests from one client reached ${seen.length} backends: ${seen.join(', ')}`);
}

async function sessionAffinityTimeout(c: ConformanceCluster): Promise<void> {
  const timeoutSeconds = 2;
  const { ip } = await affinityService(c, 'affinity-timeout', { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds } } });
  // Ten requests, as the plain affinity check: with three backends, five could all land on one
  // by chance (1 in 81) although no affinity holds.
  const within = distinct(await hostnames(c, c.clients[0]!, ip, 80, 10));
  expectThat(within.length === 1, `within the ${timeoutSeconds} s affinity timeout, requests reached ${within.join(', ')}`);
  // After the timeout each request may go anywhere: with three backends, eight requests all landing
  // on the first one would mean the affinity never expires.
  const after: string[] = [];
  for (let i = 0; i < 8; i++) {
    await sleep((timeoutSeconds + 1) * 1000);
    after.push(await c.http(c.clients[0]!, ip, 80));
    if (distinct(after).length > 1) return;
  }
  throw new CheckFailure(`the ClientIP affinity did not expire after ${timeoutSeconds} s: 8 requests ${timeoutSeconds + 1} s apart all reached ${after[0]}`);
}

async function switchAffinity(c: ConformanceCluster): Promise<void> {
  const { ip, backends } = await affinityService(c, 'affinity-switch', { sessionAffinity: 'None' });
  const names = backends.map(b => b.name);
  await c.reachAll(c.clients[0]!, ip, 80, 'http', names);
  await c.updateService('affinity-switch', s => ({ ...s, spec: { ...s.spec, sessionAffinity: 'ClientIP' } }));
  let seen: string[] = [];
  await c.eventually('ClientIP affinity to take effect', async () => {
    seen = distinct(await hostnames(c, c.clients[0]!, ip, 80, 10));
    return seen.length === 1 ? true : undefined;
  }, 20_000, () => `10 requests from ${c.clients[0]!.name} still reached ${seen.length} backends: ${seen.join(', ')}`);
  await c.updateService('affinity-switch', s => {
    const { sessionAffinityConfig: _dropped, ...spec } = s.spec ?? {};
    return { ...s, spec: { ...spec, sessionAffinity: 'None' } };
  });
  await c.reachAll(c.clients[0]!, ip, 80, 'http', names);
}

async function largeRequest(c: ConformanceCluster): Promise<void> {
  const { ip } = await netserverService(c, 'large-requests');
  const size = 1 << 20;
  // busybox wget --post-file sends no Content-Length, so the request goes as raw HTTP through nc.
  const script = `dd if=/dev/zero of=/tmp/big bs=1024 count=${size / 1024} 2>/dev/null && { printf 'POST /cgi-bin/size HTTP/1.0\\r\\nContent-Length: ${size}\\r\\n\\r\\n'; cat /tmp/big; } | timeout 20 nc ${ip} 80`;
  const r = await c.exec(c.clients[0]!, ['sh', '-c', script], 40_000);
  const got = r.stdout.trim().split('\n').pop()?.trim();
  expectThat(r.exitCode === 0 && got === String(size), `a ${size}-byte POST through the service ${got ? `arrived as ${got} bytes` : 'got no answer'} (${r.stderr.trim() && r.exitCode !== 143 ? r.stderr.trim() : exitReason(r.exitCode, 'nc got no answer within 20 s')})`);
}

async function nodePort(c: ConformanceCluster): Promise<void> {
  const { nodePorts } = await netserverService(c, 'nodeport', { type: 'NodePort' });
  for (const node of c.nodes) await c.reachAll(c.clients[0]!, node.ip, nodePorts.http!, 'http', c.servers.map(s => s.name));
}

async function multiport(c: ConformanceCluster): Promise<void> {
  const svc = await c.createService('multiport', {
    selector: { app: 'netserver' },
    ports: [{ name: 'a', port: 80, targetPort: 'http' }, { name: 'b', port: 81, targetPort: HTTP2_PORT }],
  });
  await c.waitForEndpoints('multiport', c.servers.length);
  const ip = svc.spec?.clusterIP ?? '';
  for (const port of [80, 81]) await c.reachAll(c.clients[0]!, ip, port, 'http', c.servers.map(s => s.name));
}

async function sameSvcPortTwoProtocols(c: ConformanceCluster): Promise<void> {
  const svc = await c.createService('dual-protocol', {
    selector: { app: 'netserver' },
    ports: [{ name: 'tcp', port: 80, targetPort: HTTP_PORT, protocol: 'TCP' }, { name: 'udp', port: 80, targetPort: UDP_PORT, protocol: 'UDP' }],
  });
  await c.waitForEndpoints('dual-protocol', c.servers.length);
  const ip = svc.spec?.clusterIP ?? '';
  await c.reachAll(c.clients[0]!, ip, 80, 'http', c.servers.map(s => s.name));
  await c.reachAll(c.clients[0]!, ip, 80, 'udp', c.servers.map(s => s.name));
}

async function typeChanges(c: ConformanceCluster): Promise<void> {
  const name = 'type-changes';
  await c.createService(name, { type: 'ExternalName', externalName: 'kubernetes.default.svc.cluster.local' });
  let svc = await c.updateService(name, s => ({ ...s, spec: { type: 'ClusterIP', selector: { app: 'netserver' }, ports: [httpPort] } }));
  expectThat(!!svc.spec?.clusterIP && svc.spec.clusterIP !== 'None', 'changing ExternalName to ClusterIP allocated no ClusterIP');
  await c.waitForEndpoints(name, c.servers.length);
  await c.reachAll(c.clients[0]!, svc.spec!.clusterIP!, 80, 'http', c.servers.map(s => s.name));
  svc = await c.updateService(name, s => ({ ...s, spec: { ...s.spec, type: 'NodePort' } }));
  const np = svc.spec?.ports?.[0]?.nodePort;
  expectThat(!!np, 'changing ClusterIP to NodePort allocated no nodePort');
  await c.reachAll(c.clients[0]!, c.nodes[0]!.ip, np!, 'http', c.servers.map(s => s.name));
  svc = await c.updateService(name, s => ({ ...s, spec: { type: 'ExternalName', externalName: 'kubernetes.default.svc.cluster.local' } }));
  expectThat(!svc.spec?.clusterIP && !svc.spec?.ports?.length, `changing NodePort back to ExternalName left clusterIP ${svc.spec?.clusterIP ?? ''} and ports`);
  // …and the released nodePort no longer answers.
  await c.eventually(`the released nodePort ${np} to stop answering`, async () => {
    try { await c.http(c.clients[0]!, c.nodes[0]!.ip, np!, '/cgi-bin/hostname', 2); return undefined; } catch { return true; }
  }, 15_000);
}

async function hairpin(c: ConformanceCluster): Promise<void> {
  const self = c.servers[0]!;
  const svc = await c.createService('hairpin', { selector: { app: 'netserver', node: 'n0' }, ports: [httpPort] });
  await c.waitForEndpoints('hairpin', 1);
  const answer = await c.httpOnceReady(self, svc.spec?.clusterIP ?? '', 80);
  expectThat(answer === self.name, `${self.name} reached ${answer === '' ? 'nothing (an empty answer, wget exit 0)' : answer} instead of itself through its own service`);
}

async function sourceIp(c: ConformanceCluster): Promise<void> {
  const { ip } = await netserverService(c, 'source-ip');
  for (const from of c.clients) {
    const seen = normalizeClientAddress(await c.httpOnceReady(from, ip, 80, '/cgi-bin/clientip'));
    expectThat(seen === from.ip, `through the ClusterIP, ${from.name} (${from.ip}) was seen as ${seen}`);
  }
}

async function rejectWithoutEndpoints(c: ConformanceCluster): Promise<void> {
  const svc = await c.createService('no-endpoints', { selector: { app: 'nothing-matches-this' }, ports: [httpPort] });
  const ip = svc.spec?.clusterIP ?? '';
  let last = '';
  await c.eventually('connections to a service without endpoints to be refused at once', async () => {
    const started = Date.now();
    const r = await c.exec(c.clients[0]!, ['timeout', '5', 'wget', '-qO-', `http://${ip}:80/`]);
    const ms = Date.now() - started;
    if (r.exitCode === 0) throw new CheckFailure(`a service without endpoints answered: ${r.stdout.trim()}`);
    last = `${r.stderr.trim() || exitReason(r.exitCode, 'wget got no answer within 5 s')}, after ${(ms / 1000).toFixed(1)} s`;
    return /refused/i.test(r.stderr) && ms < 4000 ? true : undefined;
  }, 20_000, () => `last attempt from ${c.clients[0]!.name} to ${ip}:80: ${last || 'none'}`);
}

async function unreadyEndpoints(c: ConformanceCluster): Promise<void> {
  // A pod whose readiness probe never passes, published anyway.
  const unready = c.pod('unready-1', c.nodes[0]!.name, { app: 'unready' }, ['sh', '-c', `httpd -f -p ${HTTP_PORT} -h /var/www`], [{ name: 'http', containerPort: HTTP_PORT }]);
  unready.spec!.containers[0]!.readinessProbe = { exec: { command: ['false'] }, periodSeconds: 1 };
  await c.createPod(unready);
  const [ip] = [...(await c.waitForPods(['unready-1'])).values()];
  const pod = await c.client.get<Pod>({ group: '', version: 'v1', resource: 'pods', kind: 'Pod', namespaced: true }, c.namespace, 'unready-1');
  const ready = pod.status?.conditions?.find(x => x.type === 'Ready')?.status;
  expectThat(ready !== 'True', 'unready-1 is Ready although its readiness probe always fails: readiness probes are not honoured');
  const svc = await c.createService('unready', { selector: { app: 'unready' }, ports: [httpPort], publishNotReadyAddresses: true });
  const addrs = await c.waitForEndpoints('unready', 1);
  expectThat(addrs[0] === ip, `the endpoint of the unready pod is ${addrs[0] ?? 'missing'}, expected ${ip ?? ''}`);
  expectThat(await c.httpOnceReady(c.clients[0]!, svc.spec?.clusterIP ?? '', 80) === 'unready-1', 'the unready pod published by publishNotReadyAddresses did not answer through the service');
}

async function udpSurvivesPodCycling(c: ConformanceCluster): Promise<void> {
  const node = c.nodes[0]!;
  const from = c.clients[c.clients.length > 1 ? 1 : 0]!;
  const makeServer = async (name: string) => {
    await c.createPod(c.pod(name, node.name, { app: 'udp-cycle' }, ['udpecho', '-l', String(UDP_PORT)], [{ name: 'udp', containerPort: UDP_PORT, protocol: 'UDP' }]));
    return (await c.waitForPods([name])).get(name)!;
  };
  await makeServer('udp-cycle-a');
  const svc = await c.createService('udp-cycle', { type: 'NodePort', selector: { app: 'udp-cycle' }, ports: [udpPort] });
  const np = svc.spec?.ports?.[0]?.nodePort ?? 0;
  // One source port for every datagram: the conntrack entry the first server left behind must be
  // cleared when the endpoint changes, or every later datagram goes to a pod that is gone.
  const ask = () => c.udp(from, node.ip, np, { sourcePort: 34567, waitMs: 500, tries: 1 });
  await c.eventually('the first server to answer on the NodePort', async () => ((await ask()).host === 'udp-cycle-a' ? true : undefined), 30_000);
  await c.deletePod('udp-cycle-a');
  await makeServer('udp-cycle-b');
  await c.eventually('the replacement server to answer the same client and source port', async () => ((await ask()).host === 'udp-cycle-b' ? true : undefined), 30_000);
}

async function externalTrafficLocal(c: ConformanceCluster): Promise<void> {
  const svc = await c.createService('etp-local', { type: 'NodePort', externalTrafficPolicy: 'Local', selector: { app: 'netserver', node: 'n0' }, ports: [httpPort] });
  await c.waitForEndpoints('etp-local', 1);
  const np = svc.spec?.ports?.[0]?.nodePort ?? 0;
  const [n0, n1] = [c.nodes[0]!, c.nodes[1]!];
  const fromN1 = c.hosts[1]!;
  expectThat(await c.httpOnceReady(fromN1, n0.ip, np) === c.servers[0]!.name, `node ${n1.name} -> ${n0.name}:${np} did not reach the local endpoint`);
  const seen = await c.clientAddressSeen(fromN1, n0.ip, np);
  expectThat(seen === n1.ip, `with externalTrafficPolicy=Local the endpoint saw ${seen}, not the client node ${n1.ip}`);
  let answered = '';
  try { answered = await c.http(c.hosts[0]!, n1.ip, np, '/cgi-bin/hostname', 3); } catch { /* expected: no local endpoint */ }
  expectThat(answered === '', `${n1.name} has no local endpoint but its NodePort answered from ${answered}`);
}

export const serviceChecks: Check[] = [
  { name: 'pod-to-service http', area: 'service', upstream: `${granular} pod-Service: http`, run: c => podToService(c, 'http', c.clients[0]!) },
  { name: 'pod-to-service udp', area: 'service', upstream: `${granular} pod-Service: udp`, run: c => podToService(c, 'udp', c.clients[0]!) },
  { name: 'node-to-service http', area: 'service', upstream: `${granular} node-Service: http`, run: c => nodeToService(c, 'http') },
  { name: 'node-to-service udp', area: 'service', upstream: `${granular} node-Service: udp`, run: c => nodeToService(c, 'udp') },
  { name: 'endpoint-to-service http', area: 'service', upstream: `${granular} endpoint-Service: http`, run: c => podToService(c, 'http', c.servers[0]!) },
  { name: 'endpoint-to-service udp', area: 'service', upstream: `${granular} endpoint-Service: udp`, run: c => podToService(c, 'udp', c.servers[0]!) },
  { name: 'services sharing a selector', area: 'service', upstream: `${granular} multiple endpoint-Services with same selector`, run: multipleServices },
  { name: 'endpoints update http', area: 'service', upstream: `${granular} update endpoints: http`, run: c => updateEndpoints(c, 'http') },
  { name: 'endpoints update udp', area: 'service', upstream: `${granular} update endpoints: udp`, run: c => updateEndpoints(c, 'udp') },
  { name: 'ClientIP affinity', area: 'service', upstream: `${services} should have session affinity work for service with type clusterIP [LinuxOnly] [Conformance]`, run: sessionAffinity },
  { name: 'ClientIP affinity timeout', area: 'service', upstream: `${services} should have session affinity timeout work for service with type clusterIP [LinuxOnly] [Conformance]`, run: sessionAffinityTimeout },
  { name: 'switching affinity', area: 'service', upstream: `${services} should be able to switch session affinity for service with type clusterIP [LinuxOnly] [Conformance]`, run: switchAffinity },
  { name: 'large requests', area: 'service', upstream: '[sig-network] Networking Granular Checks: Services should be able to handle large requests: http', run: largeRequest },
  { name: 'NodePort', area: 'service', upstream: `${services} should be able to create a functioning NodePort service [Conformance]`, run: nodePort },
  { name: 'multiport', area: 'service', upstream: `${services} should serve multiport endpoints from pods [Conformance]`, run: multiport },
  { name: 'same port, two protocols', area: 'service', upstream: `${services} should serve endpoints on same port and different protocols [Conformance]`, run: sameSvcPortTwoProtocols },
  { name: 'type changes', area: 'service', upstream: `${services} should be able to change the type from ExternalName to ClusterIP [Conformance] (and to NodePort and back)`, run: typeChanges },
  { name: 'hairpin', area: 'service', upstream: `${services} should allow pods to hairpin back to themselves through services`, run: hairpin },
  { name: 'source IP through a ClusterIP', area: 'service', upstream: `${services} should preserve source pod IP for traffic thru service cluster IP [LinuxOnly]`, run: sourceIp },
  { name: 'refused without endpoints', area: 'service', upstream: `${services} should be rejected when no endpoints exist`, run: rejectWithoutEndpoints },
  { name: 'publishNotReadyAddresses', area: 'service', upstream: `${services} should create endpoints for unready pods`, run: unreadyEndpoints },
  { name: 'UDP survives pod cycling (NodePort)', area: 'service', upstream: '[sig-network] Conntrack should be able to preserve UDP traffic when server pod cycles for a NodePort service', run: udpSurvivesPodCycling },
  { name: 'externalTrafficPolicy Local', area: 'service', needs: { nodes: 2 }, upstream: '[sig-network] Services should work for type=NodePort with externalTrafficPolicy=Local (ESIPP)', run: externalTrafficLocal },
];
