// Cluster DNS as pods see it: upstream's "[sig-network] DNS" tests. Every lookup runs inside a
// pod with the image's nslookup, through the pod's own /etc/resolv.conf (search path and ndots
// included), so the kubelet's DNS configuration is checked along with the DNS server.
import type { Pod } from 'kubernetes-types/core/v1.js';
import { CheckFailure, expectThat, type Check } from '../check.js';
import { HTTP_PORT, type ConformanceCluster, type FixturePod } from '../cluster.js';

const dns = '[sig-network] DNS';

/** The addresses nslookup printed for `name` (after its "Name:" line), or a failure with its output. */
export function parseNslookup(output: string): { addresses: string[]; canonical: string[] } {
  const addresses: string[] = [], canonical: string[] = [];
  let inAnswer = false;
  for (const line of output.split('\n')) {
    if (/^Name:\s/.test(line)) inAnswer = true;
    const cname = /canonical name = (\S+?)\.?$/.exec(line);
    if (cname) canonical.push(cname[1]!);
    const addr = /^Address(?: \d+)?:\s+(\S+)$/.exec(line.trim());
    if (inAnswer && addr) addresses.push(addr[1]!.replace(/#\d+$/, ''));
  }
  return { addresses, canonical };
}

async function lookup(c: ConformanceCluster, from: FixturePod, name: string, type = 'A'): Promise<{ addresses: string[]; canonical: string[]; raw: string }> {
  const r = await c.exec(from, ['nslookup', `-type=${type.toLowerCase()}`, name]);
  if (r.exitCode !== 0) throw new CheckFailure(`nslookup -type=${type.toLowerCase()} ${name} in ${from.name} failed: ${(r.stdout + r.stderr).trim().split('\n').slice(-2).join(' ')}`);
  return { ...parseNslookup(r.stdout), raw: r.stdout };
}

async function servicesDns(c: ConformanceCluster): Promise<void> {
  const fqdn = (n: string) => `${n}.${c.namespace}.svc.${c.clusterDomain}`;
  const svc = await c.createService('dns-test', { selector: { app: 'netserver' }, ports: [{ name: 'http', port: 80, targetPort: HTTP_PORT }] });
  await c.createService('dns-test-headless', { clusterIP: 'None', selector: { app: 'netserver' }, ports: [{ name: 'http', port: 80, targetPort: HTTP_PORT }] });
  await c.waitForEndpoints('dns-test-headless', c.servers.length);
  const from = c.clients[0]!;
  await c.eventually(`${fqdn('dns-test')} to resolve to ${svc.spec?.clusterIP ?? ''}`, async () => ((await lookup(c, from, fqdn('dns-test'))).addresses.includes(svc.spec!.clusterIP!) ? true : undefined), 15_000);
  const want = c.servers.map(s => s.ip).sort();
  await c.eventually(`headless ${fqdn('dns-test-headless')} to resolve to every ready pod (${want.join(', ')})`, async () => {
    const got = (await lookup(c, from, fqdn('dns-test-headless'))).addresses.sort();
    return JSON.stringify(got) === JSON.stringify(want) ? true : undefined;
  }, 15_000);
  const srv = await lookup(c, from, `_http._tcp.${fqdn('dns-test')}`, 'SRV');
  expectThat(/\b80\s+dns-test\./.test(srv.raw) || srv.raw.includes(' 80 '), `the SRV record of the named port http is missing: ${srv.raw.trim()}`);
}

async function clusterDns(c: ConformanceCluster): Promise<void> {
  for (const from of c.clients) {
    const r = await lookup(c, from, `kubernetes.default.svc.${c.clusterDomain}`);
    expectThat(r.addresses.length > 0, `kubernetes.default.svc.${c.clusterDomain} has no address from ${from.name}`);
  }
}

async function podHostnameSubdomain(c: ConformanceCluster, check: 'hostname' | 'subdomain'): Promise<void> {
  const svcName = `dns-sub-${check}`;
  await c.createService(svcName, { clusterIP: 'None', selector: { app: svcName }, ports: [{ name: 'http', port: 80, targetPort: HTTP_PORT }] });
  const pod: Pod = c.pod(`dns-${check}`, c.nodes[0]!.name, { app: svcName }, ['sh', '-c', `httpd -f -p ${HTTP_PORT} -h /var/www`], [{ name: 'http', containerPort: HTTP_PORT }], { hostname: 'dns-querier', subdomain: svcName });
  await c.createPod(pod);
  const ip = (await c.waitForPods([`dns-${check}`])).get(`dns-${check}`)!;
  if (check === 'hostname') {
    const r = await c.exec(`dns-${check}`, ['hostname']);
    expectThat(r.stdout.trim() === 'dns-querier', `the pod's hostname is "${r.stdout.trim()}", spec.hostname says dns-querier`);
    return;
  }
  const name = `dns-querier.${svcName}.${c.namespace}.svc.${c.clusterDomain}`;
  await c.eventually(`${name} to resolve to the pod's IP ${ip}`, async () => ((await lookup(c, c.clients[0]!, name)).addresses.includes(ip) ? true : undefined), 20_000);
}

async function externalNameDns(c: ConformanceCluster): Promise<void> {
  const target = `kubernetes.default.svc.${c.clusterDomain}`;
  await c.createService('dns-external', { type: 'ExternalName', externalName: target });
  const name = `dns-external.${c.namespace}.svc.${c.clusterDomain}`;
  await c.eventually(`${name} to be a CNAME for ${target}`, async () => {
    const r = await lookup(c, c.clients[0]!, name);
    return r.canonical.includes(target) || r.raw.includes(target) ? true : undefined;
  }, 15_000);
}

async function partialNames(c: ConformanceCluster): Promise<void> {
  const svc = await c.createService('dns-partial', { selector: { app: 'netserver' }, ports: [{ name: 'http', port: 80, targetPort: HTTP_PORT }] });
  const ip = svc.spec?.clusterIP ?? '';
  for (const name of ['dns-partial', `dns-partial.${c.namespace}`, `dns-partial.${c.namespace}.svc`]) {
    await c.eventually(`"${name}" to resolve through the pod's search path`, async () => ((await lookup(c, c.clients[0]!, name)).addresses.includes(ip) ? true : undefined), 15_000);
  }
}

async function customDnsConfig(c: ConformanceCluster): Promise<void> {
  const pod = c.pod('dns-custom', c.nodes[0]!.name, {}, ['sleep', '100000'], [], {
    dnsPolicy: 'None',
    dnsConfig: { nameservers: ['1.1.1.1'], searches: ['resolv.conf.local'], options: [{ name: 'ndots', value: '2' }] },
  });
  await c.createPod(pod);
  await c.waitForPods(['dns-custom']);
  const conf = (await c.exec('dns-custom', ['cat', '/etc/resolv.conf'])).stdout;
  expectThat(/^nameserver\s+1\.1\.1\.1$/m.test(conf), `/etc/resolv.conf has no "nameserver 1.1.1.1":\n${conf}`);
  expectThat(/^search\s+resolv\.conf\.local$/m.test(conf), `/etc/resolv.conf has no "search resolv.conf.local":\n${conf}`);
  expectThat(/^options\s+.*ndots:2/m.test(conf), `/etc/resolv.conf has no "options ndots:2":\n${conf}`);
}

export const dnsChecks: Check[] = [
  { name: 'DNS for services', area: 'dns', upstream: `${dns} should provide DNS for services [Conformance]`, run: servicesDns },
  { name: 'DNS for the cluster', area: 'dns', upstream: `${dns} should provide DNS for the cluster [Conformance]`, run: clusterDns },
  { name: 'pod hostname', area: 'dns', upstream: `${dns} should provide DNS for pods for Hostname [Conformance]`, run: c => podHostnameSubdomain(c, 'hostname') },
  { name: 'pod subdomain', area: 'dns', upstream: `${dns} should provide DNS for pods for Subdomain [Conformance]`, run: c => podHostnameSubdomain(c, 'subdomain') },
  { name: 'ExternalName', area: 'dns', upstream: `${dns} should provide DNS for ExternalName services [Conformance]`, run: externalNameDns },
  { name: 'partially qualified names', area: 'dns', upstream: `${dns} should resolve DNS of partial qualified names for services [LinuxOnly] [Conformance]`, run: partialNames },
  { name: 'custom pod DNS config', area: 'dns', upstream: `${dns} should support configurable pod DNS nameservers [Conformance]`, run: customDnsConfig },
];
