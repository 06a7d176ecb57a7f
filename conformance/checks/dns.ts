// Cluster DNS as pods see it: upstream's "[sig-network] DNS" tests. Every lookup runs inside a
// pod (from the client pod on every node: the cluster DNS lives on one node, so the other nodes'
// pods reach it across the network and through their own kubelet's resolv.conf), with the
// image's nslookup for the DNS answer itself and the libc resolver for what applications do.
//
// Why two resolvers: busybox's nslookup applies the search list only to names without a dot and
// then queries every search domain at once, so a bare name prints its one answer and exits 1 on
// the other domains' (correct) NXDOMAINs, and `svc.ns` is never searched at all. Upstream's test
// uses `dig +search` and `getent hosts`; the test image's busybox is static glibc, whose
// getaddrinfo applies resolv.conf's search list and ndots exactly as an application's does, and
// busybox's ping prints what getaddrinfo returned ("PING name (ip)") before sending anything.
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

/** The address `ping` resolved `name` to through libc (its first line), if it resolved. */
export function parsePingResolution(output: string): string | undefined {
  return /^PING \S+ \(([^)]+)\)/m.exec(output)?.[1];
}

/**
 * `name` resolved as an application would: libc's getaddrinfo with the pod's resolv.conf (search
 * list, ndots). ping's exit status only says whether the address answered ICMP; ignored.
 */
async function resolveLibc(c: ConformanceCluster, from: FixturePod, name: string): Promise<string | undefined> {
  const r = await c.exec(from, ['ping', '-c', '1', '-W', '1', name]);
  const ip = parsePingResolution(r.stdout);
  if (!ip && !/bad address/.test(r.stdout + r.stderr)) throw new CheckFailure(`ping ${name} in ${from.name} neither resolved it nor said "bad address": ${(r.stdout + r.stderr).trim().split('\n').slice(-2).join(' ')}`);
  return ip;
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
  const want = c.servers.map(s => s.ip).sort();
  for (const from of c.clients) {
    await c.eventually(`${fqdn('dns-test')} to resolve to ${svc.spec?.clusterIP ?? ''} from ${from.name}`, async () => ((await lookup(c, from, fqdn('dns-test'))).addresses.includes(svc.spec!.clusterIP!) ? true : undefined), 15_000);
    await c.eventually(`headless ${fqdn('dns-test-headless')} to resolve to every ready pod (${want.join(', ')}) from ${from.name}`, async () => {
      const got = (await lookup(c, from, fqdn('dns-test-headless'))).addresses.sort();
      return JSON.stringify(got) === JSON.stringify(want) ? true : undefined;
    }, 15_000);
    const srv = await lookup(c, from, `_http._tcp.${fqdn('dns-test')}`, 'SRV');
    expectThat(/\b80\s+dns-test\./.test(srv.raw) || srv.raw.includes(' 80 '), `the SRV record of the named port http is missing from ${from.name}: ${srv.raw.trim()}`);
  }
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
  for (const from of c.clients) {
    await c.eventually(`${name} to resolve to the pod's IP ${ip} from ${from.name}`, async () => ((await lookup(c, from, name)).addresses.includes(ip) ? true : undefined), 20_000);
  }
}

async function externalNameDns(c: ConformanceCluster): Promise<void> {
  const target = `kubernetes.default.svc.${c.clusterDomain}`;
  await c.createService('dns-external', { type: 'ExternalName', externalName: target });
  const name = `dns-external.${c.namespace}.svc.${c.clusterDomain}`;
  for (const from of c.clients) {
    await c.eventually(`${name} to be a CNAME for ${target} from ${from.name}`, async () => {
      const r = await lookup(c, from, name);
      return r.canonical.includes(target) || r.raw.includes(target) ? true : undefined;
    }, 15_000);
  }
}

async function partialNames(c: ConformanceCluster): Promise<void> {
  const svc = await c.createService('dns-partial', { selector: { app: 'netserver' }, ports: [{ name: 'http', port: 80, targetPort: HTTP_PORT }] });
  const ip = svc.spec?.clusterIP ?? '';
  const expanded = `dns-partial.${c.namespace}.svc.${c.clusterDomain}`;
  for (const from of c.clients) {
    // The DNS answer for the first search domain, as nslookup queries it (its exit status is 1
    // because the other search domains rightly answer NXDOMAIN; see the top of the file).
    let said = '';
    await c.eventually(`nslookup "dns-partial" to answer ${expanded} = ${ip} through the search list from ${from.name}`, async () => {
      const r = await c.exec(from, ['nslookup', '-type=a', 'dns-partial']);
      said = (r.stdout + r.stderr).trim().split('\n').slice(-2).join(' ');
      const answered = new RegExp(`^Name:\\s+${expanded.replace(/\./g, '\\.')}$`, 'm').test(r.stdout);
      return answered && parseNslookup(r.stdout).addresses.includes(ip) ? true : undefined;
    }, 15_000, () => `nslookup said: ${said || 'nothing'}`);
    // In parallel: each ping waits its 1 s for an ICMP reply a ClusterIP never sends.
    await Promise.all(['dns-partial', `dns-partial.${c.namespace}`, `dns-partial.${c.namespace}.svc`].map(name =>
      c.eventually(`"${name}" to resolve to ${ip} through the pod's search path (libc) from ${from.name}`, async () => ((await resolveLibc(c, from, name)) === ip ? true : undefined), 15_000)));
  }
}

async function customDnsConfig(c: ConformanceCluster): Promise<void> {
  const pod = c.pod('dns-custom', c.nodes[0]!.name, {}, ['sleep', '100000'], [], {
    dnsPolicy: 'None',
    dnsConfig: { nameservers: ['1.1.1.1'], searches: ['resolv.conf.local'], options: [{ name: 'ndots', value: '2' }] },
  });
  await c.createPod(pod);
  await c.waitForPods(['dns-custom']);
  const r = await c.exec('dns-custom', ['cat', '/etc/resolv.conf']);
  const conf = r.stdout;
  // An empty file is as wrong as a bad one; say what exec saw, to tell the two apart.
  expectThat(conf.trim() !== '', `cat /etc/resolv.conf printed nothing (exit ${r.exitCode}, stderr "${r.stderr.trim()}")`);
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
