import type { Pod } from 'kubernetes-types/core/v1.js';
import type { ExecResult, HttpsTransport } from '../../api/client/https.js';
import { FakeClusterClient } from '../../api/client/fake.js';
import { resources, type ResourceType } from '../../api/client/types.js';
import type { KubeObject } from '../../api/object.js';
import { CheckFailure } from '../check.js';
import { ConformanceCluster } from '../cluster.js';
import { dnsChecks, parseNslookup, parsePingResolution } from './dns.js';

describe('parsePingResolution', () => {
  it('reads the address getaddrinfo gave busybox ping, whether or not the address answered', () => {
    const out = 'PING dns-partial.ns1 (10.43.93.9): 56 data bytes\n\n--- dns-partial.ns1 ping statistics ---\n1 packets transmitted, 0 packets received, 100% packet loss\n';
    expect(parsePingResolution(out)).toBe('10.43.93.9');
  });

  it('finds nothing when the name did not resolve', () => {
    expect(parsePingResolution("ping: bad address 'nosuch'\n")).toBeUndefined();
    expect(parsePingResolution('')).toBeUndefined();
  });
});

describe('parseNslookup on a search-list query', () => {
  it('keeps the one answer among the other search domains\' NXDOMAINs', () => {
    // busybox 1.35, `nslookup dnsp` with search default.svc.cluster.local svc.cluster.local cluster.local.
    const out = 'Server:\t\t10.43.0.10\nAddress:\t10.43.0.10:53\n\nName:\tdnsp.default.svc.cluster.local\nAddress: 10.43.93.9\n\n'
      + "** server can't find dnsp.svc.cluster.local: NXDOMAIN\n\n** server can't find dnsp.cluster.local: NXDOMAIN\n\n";
    expect(parseNslookup(out).addresses).toEqual(['10.43.93.9']);
  });
});

// The two DNS checks no network breakage reaches read what the kubelet wrote into the pod (its
// UTS hostname, /etc/resolv.conf). They run here, unchanged, against a fake node: an in-memory
// API whose pods start at once, and an exec that answers from the pod's spec as a kubelet would,
// or as a kubelet with a bug would.
describe('the checks that read a pod\'s own configuration fail when the kubelet gets it wrong', () => {
  type Kubelet = { hostname: (p: Pod) => string; resolvConf: (p: Pod) => string };
  const right: Kubelet = {
    hostname: p => p.spec?.hostname ?? p.metadata?.name ?? '',
    resolvConf: p => {
      const d = p.spec?.dnsConfig ?? {};
      return [...(d.nameservers ?? []).map(n => `nameserver ${n}`), `search ${(d.searches ?? []).join(' ')}`, `options ${(d.options ?? []).map(o => `${o.name}:${o.value ?? ''}`).join(' ')}`, ''].join('\n');
    },
  };
  /** ClusterFirst whatever the pod asked for: upstream's bug class "dnsPolicy None ignored". */
  const clusterFirstAlways = (ns: string) => `nameserver 10.43.0.10\nsearch ${ns}.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n`;

  function fakeCluster(kubelet: Kubelet): ConformanceCluster {
    const client = new FakeClusterClient();
    const create = client.create.bind(client);
    // Pods run as soon as they exist (no scheduler, no runtime: the check's logic is the subject).
    client.create = (async (type: ResourceType, namespace: string | undefined, obj: KubeObject) => {
      const made = await create(type, namespace, obj);
      if (type.resource !== 'pods') return made;
      return client.update(type, { ...made, status: { phase: 'Running', podIP: '10.42.0.9' } }, { subresource: 'status' });
    }) as typeof client.create;
    const transport = {
      exec: async (namespace: string, pod: string, _container: string, command: readonly string[]): Promise<ExecResult> => {
        const p = client.peek<Pod>(resources.pods, namespace, pod);
        if (!p) return { stdout: '', stderr: `pod ${pod} not found`, exitCode: 1 };
        if (command.join(' ') === 'hostname') return { stdout: `${kubelet.hostname(p)}\n`, stderr: '', exitCode: 0 };
        if (command.join(' ') === 'cat /etc/resolv.conf') return { stdout: kubelet.resolvConf(p), stderr: '', exitCode: 0 };
        return { stdout: '', stderr: `unexpected command ${command.join(' ')}`, exitCode: 127 };
      },
    } as unknown as HttpsTransport;
    const c = new ConformanceCluster({ client, transport });
    c.nodes = [{ name: 'n1', ip: '172.30.0.11' }];
    return c;
  }
  const check = (name: string) => dnsChecks.find(c => c.name === name)!;
  const failure = async (name: string, kubelet: Kubelet) => {
    const err = await check(name).run(fakeCluster(kubelet)).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(CheckFailure);
    return (err as Error).message;
  };

  it('pod hostname: passes with a kubelet that sets spec.hostname, fails naming both names with one that does not', async () => {
    await expect(check('pod hostname').run(fakeCluster(right))).resolves.toBeUndefined();
    expect(await failure('pod hostname', { ...right, hostname: p => p.metadata?.name ?? '' }))
      .toBe('the pod\'s hostname is "dns-hostname", spec.hostname says dns-querier');
  });

  it('custom pod DNS config: passes with the pod\'s dnsConfig, fails quoting the file with ClusterFirst instead', async () => {
    await expect(check('custom pod DNS config').run(fakeCluster(right))).resolves.toBeUndefined();
    const c = fakeCluster({ ...right, resolvConf: p => clusterFirstAlways(p.metadata?.namespace ?? '') });
    const err = await check('custom pod DNS config').run(c).then(() => undefined, (e: unknown) => e as Error);
    expect(err).toBeInstanceOf(CheckFailure);
    expect(err!.message).toBe(`/etc/resolv.conf has no "nameserver 1.1.1.1":\n${clusterFirstAlways(c.namespace)}`);
    // Each wrong line is named on its own, and an empty file is told apart from a wrong one.
    expect(await failure('custom pod DNS config', { ...right, resolvConf: p => right.resolvConf(p).replace('ndots:2', 'ndots:5') })).toMatch(/^\/etc\/resolv.conf has no "options ndots:2"/);
    expect(await failure('custom pod DNS config', { ...right, resolvConf: p => right.resolvConf(p).replace(/^search .*$/m, '') })).toMatch(/^\/etc\/resolv.conf has no "search resolv.conf.local"/);
    expect(await failure('custom pod DNS config', { ...right, resolvConf: () => '' })).toBe('cat /etc/resolv.conf printed nothing (exit 0, stderr "")');
  });
});
