// Fuzzing: random bytes and mutations of valid queries, first straight into `answer()` (many
// thousands per second, so it explores far), then over real UDP and TCP sockets for a few
// seconds; afterwards the server must still answer correctly. Seeded, so a failure reproduces.
import { connect } from 'node:net';
import dnsPacket from 'dns-packet';
import { compileService } from './records.js';
import { answer, DnsServer } from './server.js';
import { queryPacket, tcpQuery, udpQuery, udpRaw } from './testing.js';
import { Zone } from './zone.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (s + 0x6d2b79f5) >>> 0; let t = s; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
}

const seeds = [
  dnsPacket.encode(queryPacket('web.prod.svc.cluster.local', 'A')),
  dnsPacket.encode(queryPacket('_http._tcp.web.prod.svc.cluster.local', 'SRV', { edns: 1232 })),
  dnsPacket.encode(queryPacket('2.1.43.10.in-addr.arpa', 'PTR')),
  dnsPacket.encode(queryPacket('nope.cluster.local', 'AAAA')),
];

function mutate(r: () => number): Buffer {
  const pick = r();
  if (pick < 0.2) return Buffer.from(Array.from({ length: Math.floor(r() * 600) }, () => Math.floor(r() * 256)));
  const b = Buffer.from(seeds[Math.floor(r() * seeds.length)]!);
  if (pick < 0.4) return b.subarray(0, Math.floor(r() * b.length));
  const flips = 1 + Math.floor(r() * 6);
  for (let i = 0; i < flips; i++) {
    const at = Math.floor(r() * b.length);
    b[at] = r() < 0.5 ? Math.floor(r() * 256) : b[at]! ^ (1 << Math.floor(r() * 8));
  }
  // Keep most mutants queries (QR clear), so they get past the first check.
  if (r() < 0.8) b[2] = b[2]! & 0x7f;
  if (pick > 0.9) return Buffer.concat([b, Buffer.from(Array.from({ length: Math.floor(r() * 64) }, () => Math.floor(r() * 256)))]);
  return b;
}

const zone = new Zone({ domain: 'cluster.local', nsIPs: ['10.43.0.10'] });
zone.set('svc/prod/web', compileService({ metadata: { name: 'web', namespace: 'prod' }, spec: { clusterIP: '10.43.1.2', ports: [{ name: 'http', port: 80 }] } }, [], 'cluster.local'));

test('answer() survives 20 000 random and mutated messages, replying only with well-formed responses', async () => {
  const r = rng(7);
  let replies = 0;
  for (let i = 0; i < 20_000; i++) {
    const msg = mutate(r);
    const out = await answer(zone, undefined, msg, i % 2 ? 'udp' : 'tcp');
    if (!out) continue;
    replies++;
    expect(out.length).toBeGreaterThanOrEqual(12);
    expect(out.readUInt16BE(0)).toBe(msg.readUInt16BE(0)); // same id
    expect(out.readUInt16BE(2) & 0x8000).toBe(0x8000); // a response
    if (i % 2) expect(out.length).toBeLessThanOrEqual(4096);
  }
  expect(replies).toBeGreaterThan(4_000);
});

test('the server answers correctly after 3 s of fuzz over UDP and TCP', async () => {
  const server = new DnsServer({ zone, host: '127.0.0.1', port: 0 });
  await server.start();
  try {
    const r = rng(11);
    const { createSocket } = await import('node:dgram');
    const sock = createSocket('udp4');
    sock.on('message', () => undefined);
    const until = Date.now() + 3000;
    let sent = 0;
    while (Date.now() < until) {
      for (let i = 0; i < 200; i++) { sock.send(mutate(r), server.port, '127.0.0.1'); sent++; }
      // Raw TCP garbage, including broken and oversized frames.
      const c = connect({ host: '127.0.0.1', port: server.port });
      c.on('error', () => undefined);
      c.on('data', () => undefined);
      c.on('connect', () => {
        const m = mutate(r);
        const len = Buffer.alloc(2);
        len.writeUInt16BE(r() < 0.7 ? m.length : Math.floor(r() * 65536));
        c.end(Buffer.concat([len, m, mutate(r)]));
      });
      await new Promise(res => setTimeout(res, 5));
    }
    sock.close();
    expect(sent).toBeGreaterThan(10_000);
    expect(server.stats.errors).toBe(0);
    const u = await udpQuery('127.0.0.1', server.port, 'web.prod.svc.cluster.local');
    expect(u.answers?.map(a => String((a as { data?: unknown }).data))).toEqual(['10.43.1.2']);
    const t = await tcpQuery('127.0.0.1', server.port, '_http._tcp.web.prod.svc.cluster.local', 'SRV');
    expect(t.answers?.length).toBe(1);
    expect(await udpRaw('127.0.0.1', server.port, Buffer.from([1]), 200)).toBeUndefined();
  } finally {
    await server.stop();
  }
}, 20_000);
