// The UDP/TCP shell on loopback: real sockets, a fake upstream resolver on 127.0.0.2.
import dnsPacket from 'dns-packet';
import { DnsCache } from './cache.js';
import { Forwarder } from './forward.js';
import { compileService } from './records.js';
import { DnsServer } from './server.js';
import { FakeUpstream, queryPacket, rcodeOf, tcpQuery, udpQuery, udpRaw } from './testing.js';
import { Zone } from './zone.js';

const H = '127.0.0.1';
let upstream: FakeUpstream;
let server: DnsServer;
let forwarder: Forwarder;
const zone = new Zone({ domain: 'cluster.local', nsIPs: ['10.43.0.10'] });

beforeAll(async () => {
  upstream = new FakeUpstream('127.0.0.2', {
    'example.com': [{ name: 'example.com', type: 'A', ttl: 300, class: 'IN', data: '93.184.216.34' }],
    'short.example': [{ name: 'short.example', type: 'A', ttl: 1, class: 'IN', data: '192.0.2.1' }],
  });
  await upstream.start();
  forwarder = new Forwarder({ upstreams: [{ host: '127.0.0.2', port: upstream.port }], cache: new DnsCache(), timeoutMs: 500 });
  zone.set('svc/prod/web', compileService({ metadata: { name: 'web', namespace: 'prod' }, spec: { clusterIP: '10.43.1.2', ports: [{ name: 'http', port: 80 }] } }, [], 'cluster.local'));
  zone.set('svc/prod/ext', compileService({ metadata: { name: 'ext', namespace: 'prod' }, spec: { type: 'ExternalName', externalName: 'example.com' } }, [], 'cluster.local'));
  const many = Array.from({ length: 100 }, (_, i) => ({ addresses: [`10.42.${i >> 8}.${i & 255}`], hostname: `host-with-a-longish-name-${i}` }));
  zone.set('svc/prod/big', compileService({ metadata: { name: 'big', namespace: 'prod' }, spec: { clusterIP: 'None' } }, [{ addressType: 'IPv4', endpoints: many, metadata: { name: 'big-1' } }], 'cluster.local'));
  const mid = many.slice(0, 40);
  zone.set('svc/prod/mid', compileService({ metadata: { name: 'mid', namespace: 'prod' }, spec: { clusterIP: 'None' } }, [{ addressType: 'IPv4', endpoints: mid, metadata: { name: 'mid-1' } }], 'cluster.local'));
  server = new DnsServer({ zone, forwarder, host: H, port: 0 });
  await server.start();
});

afterAll(async () => {
  await server.stop();
  forwarder.close();
  await upstream.stop();
});

describe('DnsServer over UDP and TCP', () => {
  test('answers a Service by name over UDP, authoritatively, with the query id and RD echoed', async () => {
    const q = queryPacket('web.prod.svc.cluster.local', 'A', { id: 4242 });
    const r = dnsPacket.decode((await udpRaw(H, server.port, dnsPacket.encode(q)))!);
    expect(r.id).toBe(4242);
    expect(r.flag_aa && r.flag_rd && r.flag_ra).toBe(true);
    expect(r.answers?.map(a => a.type === 'A' && a.data)).toEqual(['10.43.1.2']);
  });

  test('answers the same over TCP on the same port', async () => {
    const r = await tcpQuery(H, server.port, 'web.prod.svc.cluster.local');
    expect(r.answers?.map(a => a.type === 'A' && a.data)).toEqual(['10.43.1.2']);
  });

  test('answers several pipelined queries on one TCP connection', async () => {
    const { connect } = await import('node:net');
    const sock = connect({ host: H, port: server.port });
    const replies: number[] = [];
    await new Promise<void>((resolve, reject) => {
      let buf = Buffer.alloc(0);
      sock.on('connect', () => sock.write(Buffer.concat([1, 2, 3].map(id => dnsPacket.streamEncode(queryPacket('web.prod.svc.cluster.local', 'A', { id }))))));
      sock.on('data', c => {
        buf = Buffer.concat([buf, c]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          replies.push(dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0))).id ?? -1);
          buf = buf.subarray(2 + buf.readUInt16BE(0));
        }
        if (replies.length === 3) resolve();
      });
      sock.on('error', reject);
    });
    sock.destroy();
    expect(replies.sort()).toEqual([1, 2, 3]);
  });

  test('NXDOMAIN carries the SOA', async () => {
    const r = await udpQuery(H, server.port, 'nope.prod.svc.cluster.local');
    expect(rcodeOf(r)).toBe('NXDOMAIN');
    expect(r.authorities?.[0]?.type).toBe('SOA');
  });

  test('a big answer over UDP without EDNS is truncated (TC, no records) and complete over TCP', async () => {
    const u = await udpQuery(H, server.port, 'big.prod.svc.cluster.local');
    expect(u.flag_tc).toBe(true);
    expect(u.answers).toEqual([]);
    const t = await tcpQuery(H, server.port, 'big.prod.svc.cluster.local');
    expect(t.flag_tc).toBe(false);
    expect(t.answers?.length).toBe(100);
  });

  test('EDNS raises the UDP limit: an answer that fits 4096 bytes is not truncated', async () => {
    const small = await udpQuery(H, server.port, 'host-with-a-longish-name-1.big.prod.svc.cluster.local', 'A', { edns: 4096 });
    expect(small.flag_tc).toBe(false);
    expect((await udpQuery(H, server.port, 'mid.prod.svc.cluster.local')).flag_tc).toBe(true);
    const u = await udpQuery(H, server.port, 'mid.prod.svc.cluster.local', 'A', { edns: 4096 });
    expect(u.flag_tc).toBe(false);
    expect(u.answers?.length).toBe(40);
    expect(u.additionals?.some(a => a.type === 'OPT')).toBe(true);
  });

  test('forwards names outside the zone and serves repeats from the cache', async () => {
    const before = upstream.questions.length;
    const a = await udpQuery(H, server.port, 'example.com');
    expect(a.answers?.map(x => x.type === 'A' && x.data)).toEqual(['93.184.216.34']);
    expect(a.flag_aa).toBe(false);
    const b = await tcpQuery(H, server.port, 'EXAMPLE.com');
    expect(b.answers?.map(x => x.type === 'A' && x.data)).toEqual(['93.184.216.34']);
    expect(upstream.questions.length - before).toBe(1);
  });

  test('forwards NXDOMAIN from upstream and caches it', async () => {
    const before = upstream.questions.length;
    expect(rcodeOf(await udpQuery(H, server.port, 'missing.example'))).toBe('NXDOMAIN');
    expect(rcodeOf(await udpQuery(H, server.port, 'missing.example'))).toBe('NXDOMAIN');
    expect(upstream.questions.length - before).toBe(1);
  });

  test('coalesces a burst of identical questions into one upstream query', async () => {
    const before = upstream.questions.length;
    const rs = await Promise.all(Array.from({ length: 20 }, () => udpQuery(H, server.port, 'burst.example', 'TXT')));
    expect(rs.every(r => rcodeOf(r) === 'NXDOMAIN')).toBe(true);
    expect(upstream.questions.length - before).toBe(1);
  });

  test('re-asks upstream once the cached TTL has passed', async () => {
    await udpQuery(H, server.port, 'short.example');
    const before = upstream.questions.length;
    await new Promise(r => setTimeout(r, 1100));
    await udpQuery(H, server.port, 'short.example');
    expect(upstream.questions.length - before).toBe(1);
  });

  test('an ExternalName answers its CNAME followed by the upstream address of the target', async () => {
    const r = await udpQuery(H, server.port, 'ext.prod.svc.cluster.local');
    expect(r.answers?.map(a => `${a.type} ${String((a as { data?: unknown }).data)}`)).toEqual(['CNAME example.com', 'A 93.184.216.34']);
  });

  test('PTR of a ClusterIP is answered from the zone', async () => {
    const r = await udpQuery(H, server.port, '2.1.43.10.in-addr.arpa', 'PTR');
    expect(r.answers?.map(a => String((a as { data?: unknown }).data))).toEqual(['web.prod.svc.cluster.local']);
  });
});

describe('DnsServer and bad input', () => {
  test('garbage of at least a header gets FORMERR with the id echoed', async () => {
    const msg = Buffer.from([0xab, 0xcd, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3f, 0xff]);
    const r = dnsPacket.decode((await udpRaw(H, server.port, msg))!);
    expect(r.id).toBe(0xabcd);
    expect(rcodeOf(r)).toBe('FORMERR');
  });

  test('two questions in one query get FORMERR', async () => {
    const q = queryPacket('a.example', 'A');
    q.questions!.push({ name: 'b.example', type: 'A', class: 'IN' });
    expect(rcodeOf(dnsPacket.decode((await udpRaw(H, server.port, dnsPacket.encode(q)))!))).toBe('FORMERR');
  });

  test('a non-QUERY opcode gets NOTIMP', async () => {
    const msg = dnsPacket.encode(queryPacket('web.prod.svc.cluster.local'));
    msg.writeUInt16BE(msg.readUInt16BE(2) | (2 << 11), 2);
    expect(rcodeOf(dnsPacket.decode((await udpRaw(H, server.port, msg))!))).toBe('NOTIMP');
  });

  test('runts and responses are dropped without a reply', async () => {
    expect(await udpRaw(H, server.port, Buffer.from([1, 2, 3]), 300)).toBeUndefined();
    const resp = dnsPacket.encode({ ...queryPacket('x.example'), type: 'response' });
    expect(await udpRaw(H, server.port, resp, 300)).toBeUndefined();
  });

  test('a TCP frame announcing more than it sends, then a hang-up, leaves the server serving', async () => {
    const { connect } = await import('node:net');
    const s = connect({ host: H, port: server.port });
    await new Promise(r => s.on('connect', r));
    s.write(Buffer.from([0xff, 0xff, 1, 2, 3]));
    s.destroy();
    const r = await udpQuery(H, server.port, 'web.prod.svc.cluster.local');
    expect(r.answers?.length).toBe(1);
  });
});

describe('DnsServer without upstreams', () => {
  test('answers SERVFAIL for outside names when every upstream is silent', async () => {
    const dead = new Forwarder({ upstreams: [{ host: '127.0.0.3', port: 9 }], timeoutMs: 200 });
    const s = new DnsServer({ zone, forwarder: dead, host: H, port: 0 });
    await s.start();
    try {
      expect(rcodeOf(await udpQuery(H, s.port, 'example.org'))).toBe('SERVFAIL');
      expect(rcodeOf(await udpQuery(H, s.port, 'web.prod.svc.cluster.local'))).toBe('NOERROR');
    } finally {
      await s.stop();
      dead.close();
    }
  });

  test('answers REFUSED for outside names when it has no forwarder', async () => {
    const s = new DnsServer({ zone, host: H, port: 0 });
    await s.start();
    try {
      expect(rcodeOf(await udpQuery(H, s.port, 'example.org'))).toBe('REFUSED');
    } finally {
      await s.stop();
    }
  });
});
