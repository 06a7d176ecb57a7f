import dnsPacket, { type Answer } from 'dns-packet';
import { DnsCache } from './cache.js';
import { parseResolvConf } from './forward.js';
import { buildResponse, encodeResponse, headerOnly, parseQuery } from './wire.js';
import { queryPacket } from './testing.js';

const rcode = (b: Buffer) => (dnsPacket.decode(b) as unknown as { rcode: string }).rcode;

describe('parseQuery', () => {
  test('reads one question and the EDNS payload size, clamped to 512..4096', () => {
    const q = parseQuery(dnsPacket.encode(queryPacket('a.b', 'AAAA', { edns: 9000 })));
    expect(q.kind === 'query' && [q.question.name, q.question.type, q.udpLimit, q.edns]).toEqual(['a.b', 'AAAA', 4096, true]);
    const small = parseQuery(dnsPacket.encode(queryPacket('a.b', 'A', { edns: 100 })));
    expect(small.kind === 'query' && small.udpLimit).toBe(512);
    const plain = parseQuery(dnsPacket.encode(queryPacket('a.b')));
    expect(plain.kind === 'query' && [plain.udpLimit, plain.edns]).toEqual([512, false]);
  });
  test('drops runts and responses', () => {
    expect(parseQuery(Buffer.alloc(11)).kind).toBe('drop');
    expect(parseQuery(dnsPacket.encode({ ...queryPacket('a'), type: 'response' })).kind).toBe('drop');
  });
  test('FORMERR for an unreadable body, no question, or answers in a query', () => {
    const bad = Buffer.from([0, 7, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c]);
    const r = parseQuery(bad);
    expect(r.kind === 'error' && rcode(r.response)).toBe('FORMERR');
    const none = parseQuery(dnsPacket.encode({ id: 1, type: 'query', questions: [] }));
    expect(none.kind === 'error' && rcode(none.response)).toBe('FORMERR');
    const withAnswer = parseQuery(dnsPacket.encode({ ...queryPacket('a'), answers: [{ name: 'a', type: 'A', data: '1.2.3.4' }] }));
    expect(withAnswer.kind).toBe('error');
  });
  test('NOTIMP for other opcodes, echoing the opcode', () => {
    const m = dnsPacket.encode(queryPacket('a'));
    m.writeUInt16BE(m.readUInt16BE(2) | (5 << 11), 2);
    const r = parseQuery(m);
    expect(r.kind === 'error' && rcode(r.response)).toBe('NOTIMP');
    expect(r.kind === 'error' && (r.response.readUInt16BE(2) >> 11) & 0xf).toBe(5);
  });
  test('headerOnly echoes id and RD and sets QR', () => {
    const m = dnsPacket.encode(queryPacket('a', 'A', { id: 77 }));
    const h = dnsPacket.decode(headerOnly(m, 'SERVFAIL'));
    expect([h.id, h.flag_qr, h.flag_rd, (h as unknown as { rcode: string }).rcode]).toEqual([77, true, true, 'SERVFAIL']);
  });
});

describe('encodeResponse', () => {
  const q = parseQuery(dnsPacket.encode(queryPacket('x.example', 'A', { id: 9 })));
  if (q.kind !== 'query') throw new Error('fixture');
  const many: Answer[] = Array.from({ length: 60 }, (_, i) => ({ name: 'x.example', type: 'A', ttl: 5, class: 'IN', data: `10.0.0.${i}` }));
  test('keeps a response that fits', () => {
    const b = encodeResponse(buildResponse(q, { rcode: 'NOERROR', answers: many.slice(0, 3) }), 512);
    expect(dnsPacket.decode(b).answers?.length).toBe(3);
  });
  test('truncates to header and question with TC when it does not fit', () => {
    const b = encodeResponse(buildResponse(q, { rcode: 'NOERROR', answers: many }), 512);
    const d = dnsPacket.decode(b);
    expect([d.flag_tc, d.answers?.length, d.questions?.[0]?.name, d.id]).toEqual([true, 0, 'x.example', 9]);
  });
  test('turns an unencodable response into SERVFAIL instead of throwing', () => {
    const bad = buildResponse(q, { rcode: 'NOERROR', answers: [{ name: 'x', type: 'SRV', data: null } as unknown as Answer] });
    expect(rcode(encodeResponse(bad, 512, dnsPacket.encode(queryPacket('x', 'A'))))).toBe('SERVFAIL');
  });
});

describe('DnsCache', () => {
  let t = 0;
  const cache = new DnsCache({ now: () => t, maxEntries: 2, maxTtl: 30 });
  const a = (ttl: number): Answer => ({ name: 'n', type: 'A', ttl, class: 'IN', data: '1.1.1.1' });
  test('keeps positive answers for their smallest TTL, capped, and ages the TTLs', () => {
    t = 0;
    cache.set('k', { rcode: 'NOERROR', answers: [a(300), a(20)], authorities: [] });
    t = 5_000;
    expect(cache.get('k')?.answers.map(x => (x as { ttl: number }).ttl)).toEqual([295, 15]);
    t = 20_000;
    expect(cache.get('k')).toBeUndefined();
    expect(cache.ttlFor({ rcode: 'NOERROR', answers: [a(300)], authorities: [] })).toBe(30);
  });
  test('keeps negative answers for the SOA minimum, never SERVFAIL', () => {
    const soa: Answer = { name: 'z', type: 'SOA', ttl: 60, class: 'IN', data: { mname: 'a', rname: 'b', minimum: 10 } };
    expect(cache.ttlFor({ rcode: 'NXDOMAIN', answers: [], authorities: [soa] })).toBe(10);
    expect(cache.ttlFor({ rcode: 'NOERROR', answers: [], authorities: [] })).toBe(5);
    expect(cache.ttlFor({ rcode: 'SERVFAIL', answers: [], authorities: [] })).toBe(0);
  });
  test('evicts the oldest entry past its bound', () => {
    t = 0;
    cache.clear();
    for (const k of ['a', 'b', 'c']) cache.set(k, { rcode: 'NOERROR', answers: [a(10)], authorities: [] });
    expect([cache.size, cache.get('a'), cache.get('c')?.rcode]).toEqual([2, undefined, 'NOERROR']);
  });
});

describe('parseResolvConf', () => {
  test('returns nameservers in order, ignoring comments, options and zone ids', () => {
    expect(parseResolvConf('# x\nsearch a b\nnameserver 10.0.0.2\nnameserver fe80::1%eth0\noptions ndots:5\n  nameserver 1.1.1.1')).toEqual(['10.0.0.2', 'fe80::1', '1.1.1.1']);
  });
});
