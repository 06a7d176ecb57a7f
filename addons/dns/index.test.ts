// ZoneSync over the in-memory client: watch events reach the zone, slices find their Service.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pod, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { FakeClusterClient } from '../../api/client/fake.js';
import { resources } from '../../api/client/types.js';
import { upstreamsFrom, ZoneSync } from './index.js';
import { resolve, Zone } from './zone.js';

const settle = () => new Promise(r => setTimeout(r, 20));
const ips = (z: Zone, n: string, t = 'A') => { const r = resolve(z, n, t); return r.kind === 'answer' ? r.answers.map(a => String(a.data)) : [r.kind]; };

describe('ZoneSync', () => {
  test('follows Services, their EndpointSlices and Pods through watch events', async () => {
    const client = new FakeClusterClient();
    const zone = new Zone({ domain: 'cluster.local' });
    const sync = new ZoneSync(client, zone);
    await client.create<Service>(resources.services, 'a', { metadata: { name: 'web' }, spec: { clusterIP: '10.43.0.5' } });
    await sync.start();
    expect(ips(zone, 'web.a.svc.cluster.local')).toEqual(['10.43.0.5']);

    await client.create<Service>(resources.services, 'a', { metadata: { name: 'h' }, spec: { clusterIP: 'None' } });
    await client.create<EndpointSlice>(resources.endpointslices, 'a', { metadata: { name: 'h-1', labels: { 'kubernetes.io/service-name': 'h' } }, addressType: 'IPv4', endpoints: [{ addresses: ['10.42.0.1'], hostname: 'h-0' }] });
    await settle();
    expect(ips(zone, 'h-0.h.a.svc.cluster.local')).toEqual(['10.42.0.1']);

    // A slice re-labelled to another Service moves its records.
    await client.create<Service>(resources.services, 'a', { metadata: { name: 'h2' }, spec: { clusterIP: 'None' } });
    await client.patch(resources.endpointslices, 'a', 'h-1', 'merge', { metadata: { labels: { 'kubernetes.io/service-name': 'h2' } } });
    await settle();
    expect(ips(zone, 'h.a.svc.cluster.local')).toEqual([]);
    expect(ips(zone, 'h-0.h2.a.svc.cluster.local')).toEqual(['10.42.0.1']);

    const p = await client.create<Pod>(resources.pods, 'a', { metadata: { name: 'p' }, spec: { containers: [] } });
    await client.update(resources.pods, { ...p, status: { podIP: '10.42.0.9' } }, { subresource: 'status' });
    await settle();
    expect(ips(zone, '10-42-0-9.a.pod.cluster.local')).toEqual(['10.42.0.9']);
    await client.delete(resources.pods, 'a', 'p');
    await client.delete(resources.services, 'a', 'web');
    await settle();
    expect(resolve(zone, '10-42-0-9.a.pod.cluster.local', 'A')).toMatchObject({ rcode: 'NXDOMAIN' });
    expect(resolve(zone, 'web.a.svc.cluster.local', 'A')).toMatchObject({ rcode: 'NXDOMAIN' });
    sync.stop();
  });
});

describe('upstreamsFrom', () => {
  test('reads resolv.conf and leaves out the cluster DNS itself', () => {
    const f = join(mkdtempSync(join(tmpdir(), 'k8ts-dns-')), 'resolv.conf');
    writeFileSync(f, 'nameserver 10.43.0.10\nnameserver 127.0.0.53\nnameserver 1.1.1.1\n');
    expect(upstreamsFrom({ resolvConf: f, clusterDnsIPs: ['10.43.0.10'], host: '127.0.0.53', port: 53 })).toEqual([{ host: '1.1.1.1', port: 53 }]);
    expect(upstreamsFrom({ resolvConf: f, upstreamPort: 5353 }).map(u => `${u.host}:${u.port}`)).toEqual(['127.0.0.53:5353', '1.1.1.1:5353']);
    expect(upstreamsFrom({ resolvConf: join(f, 'missing') })).toEqual([]);
  });
});
