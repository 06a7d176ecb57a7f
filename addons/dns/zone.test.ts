import type { Pod, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { compilePod, compileService, dashedIP, reverseName } from './records.js';
import { resolve, Zone, type Resolution } from './zone.js';
import { parseIP } from '../../api/cidr.js';

const D = 'cluster.local';

function svc(name: string, ns: string, spec: NonNullable<Service['spec']>): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec };
}
function slice(svcName: string, ns: string, eps: { ip: string; hostname?: string; ready?: boolean; terminating?: boolean }[], ports: { name?: string; port: number; protocol?: string }[] = [], addressType = 'IPv4'): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType,
    metadata: { name: `${svcName}-x`, namespace: ns, labels: { 'kubernetes.io/service-name': svcName } },
    endpoints: eps.map(e => ({ addresses: [e.ip], ...(e.hostname ? { hostname: e.hostname } : {}), conditions: { ...(e.ready === undefined ? {} : { ready: e.ready }), ...(e.terminating === undefined ? {} : { terminating: e.terminating }) } })),
    ports,
  };
}
function pod(name: string, ns: string, ip: string | undefined, extra: Partial<Pod['spec']> = {}, phase = 'Running'): Pod {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns }, spec: { containers: [], ...extra }, status: { phase, ...(ip ? { podIP: ip, podIPs: [{ ip }] } : {}) } };
}

function zoneWith(objs: { svc?: Service; slices?: EndpointSlice[]; pod?: Pod }[], domain = D): Zone {
  const z = new Zone({ domain, nsIPs: ['10.43.0.10'], ttl: 5 });
  for (const o of objs) {
    if (o.svc) z.set(`svc/${o.svc.metadata!.namespace}/${o.svc.metadata!.name}`, compileService(o.svc, o.slices ?? [], domain));
    if (o.pod) z.set(`pod/${o.pod.metadata!.namespace}/${o.pod.metadata!.name}`, compilePod(o.pod, domain));
  }
  return z;
}

const data = (r: Resolution) => (r.kind === 'answer' || r.kind === 'chase' ? r.answers.map(a => `${a.type} ${typeof a.data === 'string' ? a.data : JSON.stringify(a.data)}`) : []);
const rcode = (r: Resolution) => (r.kind === 'answer' ? r.rcode : r.kind);

const web = svc('web', 'prod', { type: 'ClusterIP', clusterIP: '10.43.1.2', clusterIPs: ['10.43.1.2'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }, { name: 'dns', port: 53, protocol: 'UDP' }, { port: 9000 }] });
const nginx = svc('nginx', 'prod', { clusterIP: 'None', ports: [{ name: 'web', port: 80 }] });
const nginxSlice = slice('nginx', 'prod', [
  { ip: '10.42.0.5', hostname: 'web-0' },
  { ip: '10.42.0.6', hostname: 'web-1' },
  { ip: '10.42.0.7', ready: false, hostname: 'web-2' },
  { ip: '10.42.0.8' },
  { ip: '10.42.0.9', terminating: true, ready: false },
], [{ name: 'web', port: 80, protocol: 'TCP' }]);
const ext = svc('ext', 'prod', { type: 'ExternalName', externalName: 'Example.COM.' });
const alias = svc('alias', 'prod', { type: 'ExternalName', externalName: 'web.prod.svc.cluster.local' });
const zone = zoneWith([{ svc: web }, { svc: nginx, slices: [nginxSlice] }, { svc: ext }, { svc: alias }, { pod: pod('p', 'prod', '10.42.0.20') }, { pod: pod('web-0', 'prod', '10.42.0.5') }]);

describe('reverseName and dashedIP', () => {
  test('reverseName writes IPv4 octets backwards under in-addr.arpa', () => {
    expect(reverseName(parseIP('10.43.1.2')!)).toBe('2.1.43.10.in-addr.arpa');
  });
  test('reverseName writes IPv6 nibbles backwards under ip6.arpa', () => {
    expect(reverseName(parseIP('2001:db8::1')!)).toBe(`1.${'0.'.repeat(23)}8.b.d.0.1.0.0.2.ip6.arpa`);
  });
  test('dashedIP turns dots and colons into dashes', () => {
    expect(dashedIP(parseIP('10.42.0.5')!)).toBe('10-42-0-5');
    expect(dashedIP(parseIP('2001:db8::1')!)).toBe('2001-db8--1');
  });
});

describe('ClusterIP Services', () => {
  test('resolve answers A with the ClusterIP for svc.ns.svc.zone', () => {
    const r = resolve(zone, 'web.prod.svc.cluster.local', 'A');
    expect(rcode(r)).toBe('NOERROR');
    expect(data(r)).toEqual(['A 10.43.1.2']);
    expect(r.kind === 'answer' && r.answers[0]!.ttl).toBe(5);
  });
  test('resolve matches names case-insensitively and keeps the asked spelling as owner', () => {
    const r = resolve(zone, 'Web.PROD.svc.Cluster.Local.', 'A');
    expect(data(r)).toEqual(['A 10.43.1.2']);
    expect(r.kind === 'answer' && r.answers[0]!.name).toBe('Web.PROD.svc.Cluster.Local.');
  });
  test('resolve answers NODATA for AAAA of an IPv4-only Service, with the SOA', () => {
    const r = resolve(zone, 'web.prod.svc.cluster.local', 'AAAA');
    expect(rcode(r)).toBe('NOERROR');
    expect(data(r)).toEqual([]);
    expect(r.kind === 'answer' && r.authorities.map(a => a.type)).toEqual(['SOA']);
  });
  test('resolve answers SRV for each named port with the service as target, unnamed ports get none', () => {
    expect(data(resolve(zone, '_http._tcp.web.prod.svc.cluster.local', 'SRV'))).toEqual(['SRV {"priority":0,"weight":100,"port":80,"target":"web.prod.svc.cluster.local"}']);
    expect(data(resolve(zone, '_dns._udp.web.prod.svc.cluster.local', 'SRV'))).toEqual(['SRV {"priority":0,"weight":100,"port":53,"target":"web.prod.svc.cluster.local"}']);
    expect(rcode(resolve(zone, '_dns._tcp.web.prod.svc.cluster.local', 'SRV'))).toBe('NXDOMAIN');
  });
  test('resolve puts the SRV targets’ addresses in the additional section', () => {
    const r = resolve(zone, '_http._tcp.web.prod.svc.cluster.local', 'SRV');
    expect(r.kind === 'answer' && r.additionals.map(a => `${a.name} ${String(a.data)}`)).toEqual(['web.prod.svc.cluster.local 10.43.1.2']);
  });
  test('resolve answers PTR of a ClusterIP with the service name', () => {
    expect(data(resolve(zone, '2.1.43.10.in-addr.arpa', 'PTR'))).toEqual(['PTR web.prod.svc.cluster.local']);
  });
  test('compileService gives dual-stack Services A and AAAA and both PTRs', () => {
    const z = zoneWith([{ svc: svc('ds', 'a', { clusterIP: '10.43.0.7', clusterIPs: ['10.43.0.7', 'fd00::7'] }) }]);
    expect(data(resolve(z, 'ds.a.svc.cluster.local', 'A'))).toEqual(['A 10.43.0.7']);
    expect(data(resolve(z, 'ds.a.svc.cluster.local', 'AAAA'))).toEqual(['AAAA fd00::7']);
    expect(data(resolve(z, reverseName(parseIP('fd00::7')!), 'PTR'))).toEqual(['PTR ds.a.svc.cluster.local']);
  });
  test('compileService gives no name to a Service whose ClusterIP is not allocated yet', () => {
    expect(compileService(svc('n', 'a', {}), [], D).records).toEqual([]);
  });
  test('NodePort and LoadBalancer Services resolve to their ClusterIP', () => {
    const z = zoneWith([{ svc: svc('np', 'a', { type: 'NodePort', clusterIP: '10.43.0.8' }) }, { svc: svc('lb', 'a', { type: 'LoadBalancer', clusterIP: '10.43.0.9' }) }]);
    expect(data(resolve(z, 'np.a.svc.cluster.local', 'A'))).toEqual(['A 10.43.0.8']);
    expect(data(resolve(z, 'lb.a.svc.cluster.local', 'A'))).toEqual(['A 10.43.0.9']);
  });
});

describe('headless Services', () => {
  test('resolve answers A with every ready endpoint IP and not the unready or terminating ones', () => {
    expect(data(resolve(zone, 'nginx.prod.svc.cluster.local', 'A')).sort()).toEqual(['A 10.42.0.5', 'A 10.42.0.6', 'A 10.42.0.8']);
  });
  test('resolve answers the endpoint hostname records StatefulSets rely on', () => {
    expect(data(resolve(zone, 'web-0.nginx.prod.svc.cluster.local', 'A'))).toEqual(['A 10.42.0.5']);
    expect(data(resolve(zone, 'web-1.nginx.prod.svc.cluster.local', 'A'))).toEqual(['A 10.42.0.6']);
    expect(rcode(resolve(zone, 'web-2.nginx.prod.svc.cluster.local', 'A'))).toBe('NXDOMAIN');
  });
  test('endpoints without a hostname get their dashed IP as one, as CoreDNS', () => {
    expect(data(resolve(zone, '10-42-0-8.nginx.prod.svc.cluster.local', 'A'))).toEqual(['A 10.42.0.8']);
  });
  test('resolve answers SRV per ready endpoint and named port, targets the endpoint names, weights split', () => {
    const r = resolve(zone, '_web._tcp.nginx.prod.svc.cluster.local', 'SRV');
    expect(data(r).sort()).toEqual([
      'SRV {"priority":0,"weight":33,"port":80,"target":"10-42-0-8.nginx.prod.svc.cluster.local"}',
      'SRV {"priority":0,"weight":33,"port":80,"target":"web-0.nginx.prod.svc.cluster.local"}',
      'SRV {"priority":0,"weight":33,"port":80,"target":"web-1.nginx.prod.svc.cluster.local"}',
    ]);
    expect(r.kind === 'answer' && r.additionals.length).toBe(3);
  });
  test('PTR of an endpoint IP names its hostname record, preferred over the pod record', () => {
    expect(data(resolve(zone, '5.0.42.10.in-addr.arpa', 'PTR'))).toEqual(['PTR web-0.nginx.prod.svc.cluster.local']);
  });
  test('publishNotReadyAddresses includes unready endpoints', () => {
    const s = svc('h', 'a', { clusterIP: 'None', publishNotReadyAddresses: true });
    const z = zoneWith([{ svc: s, slices: [slice('h', 'a', [{ ip: '10.42.1.1', ready: false }])] }]);
    expect(data(resolve(z, 'h.a.svc.cluster.local', 'A'))).toEqual(['A 10.42.1.1']);
  });
  test('a headless Service with no ready endpoints exists: NODATA, not NXDOMAIN', () => {
    const z = zoneWith([{ svc: svc('h', 'a', { clusterIP: 'None' }), slices: [slice('h', 'a', [{ ip: '10.42.1.1', ready: false }])] }]);
    const r = resolve(z, 'h.a.svc.cluster.local', 'A');
    expect(rcode(r)).toBe('NOERROR');
    expect(data(r)).toEqual([]);
  });
  test('IPv6 slices give AAAA records and FQDN slices are ignored', () => {
    const s = svc('h6', 'a', { clusterIP: 'None' });
    const z = zoneWith([{ svc: s, slices: [slice('h6', 'a', [{ ip: 'fd00::5' }], [], 'IPv6'), slice('h6', 'a', [{ ip: 'example.com' }], [], 'FQDN')] }]);
    expect(data(resolve(z, 'h6.a.svc.cluster.local', 'AAAA'))).toEqual(['AAAA fd00::5']);
    expect(data(resolve(z, 'fd00--5.h6.a.svc.cluster.local', 'AAAA'))).toEqual(['AAAA fd00::5']);
    expect(data(resolve(z, 'h6.a.svc.cluster.local', 'A'))).toEqual([]);
  });
  test('endpoints listed in two slices appear once', () => {
    const s = svc('d', 'a', { clusterIP: 'None' });
    const z = zoneWith([{ svc: s, slices: [slice('d', 'a', [{ ip: '10.42.2.1' }]), slice('d', 'a', [{ ip: '10.42.2.1' }])] }]);
    expect(data(resolve(z, 'd.a.svc.cluster.local', 'A'))).toEqual(['A 10.42.2.1']);
  });
});

describe('ExternalName Services', () => {
  test('resolve answers a CNAME for the CNAME type', () => {
    const r = resolve(zone, 'ext.prod.svc.cluster.local', 'CNAME');
    expect(rcode(r)).toBe('NOERROR');
    expect(data(r)).toEqual(['CNAME example.com']);
  });
  test('resolve answers A questions with the CNAME and asks to chase an outside target', () => {
    const r = resolve(zone, 'ext.prod.svc.cluster.local', 'A');
    expect(r.kind).toBe('chase');
    expect(r.kind === 'chase' && r.target).toBe('example.com');
    expect(data(r)).toEqual(['CNAME example.com']);
  });
  test('resolve follows a CNAME to a name inside the zone itself', () => {
    const r = resolve(zone, 'alias.prod.svc.cluster.local', 'A');
    expect(data(r)).toEqual(['CNAME web.prod.svc.cluster.local', 'A 10.43.1.2']);
    expect(r.kind === 'answer' && r.answers[1]!.name).toBe('web.prod.svc.cluster.local');
  });
  test('a CNAME to a missing in-zone name answers the CNAME with NXDOMAIN', () => {
    const z = zoneWith([{ svc: svc('dangling', 'a', { type: 'ExternalName', externalName: 'gone.a.svc.cluster.local' }) }]);
    const r = resolve(z, 'dangling.a.svc.cluster.local', 'A');
    expect(rcode(r)).toBe('NXDOMAIN');
    expect(data(r)).toEqual(['CNAME gone.a.svc.cluster.local']);
  });
  test('a CNAME loop inside the zone ends after a bounded chain', () => {
    const z = zoneWith([
      { svc: svc('x', 'a', { type: 'ExternalName', externalName: 'y.a.svc.cluster.local' }) },
      { svc: svc('y', 'a', { type: 'ExternalName', externalName: 'x.a.svc.cluster.local' }) },
    ]);
    const r = resolve(z, 'x.a.svc.cluster.local', 'A');
    expect(r.kind).toBe('answer');
    expect(data(r).length).toBe(9);
  });
});

describe('pods', () => {
  test('resolve answers A for a-b-c-d.ns.pod.zone of an existing pod', () => {
    expect(data(resolve(zone, '10-42-0-20.prod.pod.cluster.local', 'A'))).toEqual(['A 10.42.0.20']);
  });
  test('a dashed name of no pod in that namespace is NXDOMAIN', () => {
    expect(rcode(resolve(zone, '10-42-0-99.prod.pod.cluster.local', 'A'))).toBe('NXDOMAIN');
    expect(rcode(resolve(zone, '10-42-0-20.other.pod.cluster.local', 'A'))).toBe('NXDOMAIN');
  });
  test('PTR of a pod IP names its pod record', () => {
    expect(data(resolve(zone, '20.0.42.10.in-addr.arpa', 'PTR'))).toEqual(['PTR 10-42-0-20.prod.pod.cluster.local']);
  });
  test('compilePod skips host-network, finished and unaddressed pods', () => {
    expect(compilePod(pod('h', 'a', '192.168.1.5', { hostNetwork: true }), D).records).toEqual([]);
    expect(compilePod(pod('f', 'a', '10.42.0.1', {}, 'Succeeded'), D).records).toEqual([]);
    expect(compilePod(pod('f', 'a', '10.42.0.1', {}, 'Failed'), D).records).toEqual([]);
    expect(compilePod(pod('n', 'a', undefined), D).records).toEqual([]);
  });
});

describe('NXDOMAIN vs NODATA and the zone apex', () => {
  test('a missing Service is NXDOMAIN with the SOA in authority', () => {
    const r = resolve(zone, 'nope.prod.svc.cluster.local', 'A');
    expect(rcode(r)).toBe('NXDOMAIN');
    expect(r.kind === 'answer' && r.authorities[0]!.type).toBe('SOA');
  });
  test('empty non-terminals exist: namespace, svc, pod and SRV protocol names are NODATA', () => {
    for (const n of ['prod.svc.cluster.local', 'svc.cluster.local', 'pod.cluster.local', 'prod.pod.cluster.local', '_tcp.web.prod.svc.cluster.local', 'cluster.local']) {
      expect([n, rcode(resolve(zone, n, 'A'))]).toEqual([n, 'NOERROR']);
    }
  });
  test('a namespace without Services is NXDOMAIN', () => {
    expect(rcode(resolve(zone, 'empty.svc.cluster.local', 'A'))).toBe('NXDOMAIN');
  });
  test('an existing name asked for another type is NODATA: TXT of a Service, A of an SRV name', () => {
    expect(rcode(resolve(zone, 'web.prod.svc.cluster.local', 'TXT'))).toBe('NOERROR');
    expect(data(resolve(zone, '_http._tcp.web.prod.svc.cluster.local', 'A'))).toEqual([]);
  });
  test('SOA at the apex names ns.dns and hostmaster, with the record TTL as negative TTL', () => {
    const r = resolve(zone, 'cluster.local', 'SOA');
    expect(r.kind === 'answer' && r.answers[0]!.data).toMatchObject({ mname: 'ns.dns.cluster.local', rname: 'hostmaster.cluster.local', minimum: 5 });
  });
  test('NS at the apex is ns.dns.zone with its address in the additional section', () => {
    const r = resolve(zone, 'cluster.local', 'NS');
    expect(data(r)).toEqual(['NS ns.dns.cluster.local']);
    expect(r.kind === 'answer' && r.additionals.map(a => String(a.data))).toEqual(['10.43.0.10']);
    expect(data(resolve(zone, 'ns.dns.cluster.local', 'A'))).toEqual(['A 10.43.0.10']);
  });
  test('dns-version.zone is TXT 1.1.0, the schema version of the specification', () => {
    expect(data(resolve(zone, 'dns-version.cluster.local', 'TXT'))).toEqual(['TXT 1.1.0']);
  });
  test('ANY returns every record at the name', () => {
    expect(data(resolve(zone, 'web.prod.svc.cluster.local', 'ANY'))).toEqual(['A 10.43.1.2']);
  });
  test('classes other than IN inside the zone are NOTIMP', () => {
    expect(rcode(resolve(zone, 'web.prod.svc.cluster.local', 'A', 'CH'))).toBe('NOTIMP');
  });
  test('the SOA serial changes with every change to the zone', () => {
    const z = zoneWith([]);
    const before = z.serial;
    z.set('svc/a/b', compileService(svc('b', 'a', { clusterIP: '10.43.0.3' }), [], D));
    expect(z.serial).toBe(before + 1);
  });
});

describe('outside the zone', () => {
  test('names outside the domain are forwarded', () => {
    expect(resolve(zone, 'example.com', 'A').kind).toBe('forward');
    expect(resolve(zone, 'cluster.local.example.com', 'A').kind).toBe('forward');
    expect(resolve(zone, 'notcluster.local', 'A').kind).toBe('forward');
  });
  test('reverse names with no PTR of ours are forwarded', () => {
    expect(resolve(zone, '1.1.168.192.in-addr.arpa', 'PTR').kind).toBe('forward');
  });
});

describe('--cluster-domain', () => {
  test('a custom domain names everything under it and cluster.local becomes foreign', () => {
    const z = zoneWith([{ svc: web }], 'k8s.example');
    expect(data(resolve(z, 'web.prod.svc.k8s.example', 'A'))).toEqual(['A 10.43.1.2']);
    expect(resolve(z, 'web.prod.svc.cluster.local', 'A').kind).toBe('forward');
    expect(data(resolve(z, '2.1.43.10.in-addr.arpa', 'PTR'))).toEqual(['PTR web.prod.svc.k8s.example']);
  });
});

describe('Zone updates', () => {
  test('replacing a fragment swaps the records and deleting it restores NXDOMAIN', () => {
    const z = zoneWith([{ svc: web }]);
    z.set('svc/prod/web', compileService({ ...web, spec: { ...web.spec, clusterIP: '10.43.9.9', clusterIPs: ['10.43.9.9'] } }, [], D));
    expect(data(resolve(z, 'web.prod.svc.cluster.local', 'A'))).toEqual(['A 10.43.9.9']);
    expect(resolve(z, '2.1.43.10.in-addr.arpa', 'PTR').kind).toBe('forward');
    z.set('svc/prod/web', undefined);
    expect(rcode(resolve(z, 'web.prod.svc.cluster.local', 'A'))).toBe('NXDOMAIN');
    expect(rcode(resolve(z, 'prod.svc.cluster.local', 'A'))).toBe('NXDOMAIN');
    expect(z.fragmentCount).toBe(1);
  });
  test('two Services sharing a namespace keep it alive until both are gone', () => {
    const z = zoneWith([{ svc: web }, { svc: svc('b', 'prod', { clusterIP: '10.43.0.4' }) }]);
    z.set('svc/prod/web', undefined);
    expect(rcode(resolve(z, 'prod.svc.cluster.local', 'A'))).toBe('NOERROR');
    z.set('svc/prod/b', undefined);
    expect(rcode(resolve(z, 'prod.svc.cluster.local', 'A'))).toBe('NXDOMAIN');
  });
});
