import dnsPacket, { type Answer, type Packet } from 'dns-packet';
import { compressMessage } from './compress.js';

const headless = (n: number): Packet => ({
  id: 9, type: 'response', flags: dnsPacket.AUTHORITATIVE_ANSWER,
  questions: [{ name: 'web.default.svc.cluster.local', type: 'A', class: 'IN' }],
  answers: Array.from({ length: n }, (_, i): Answer => ({ name: 'web.default.svc.cluster.local', type: 'A', class: 'IN', ttl: 5, data: `10.42.0.${i + 1}` })),
});

describe('compressMessage', () => {
  test('decodes to the same message as the uncompressed form', () => {
    const packet: Packet = {
      ...headless(3),
      answers: [
        { name: 'x.default.svc.cluster.local', type: 'CNAME', class: 'IN', ttl: 5, data: 'web.default.svc.cluster.local' },
        ...headless(2).answers!,
        { name: '_http._tcp.web.default.svc.cluster.local', type: 'SRV', class: 'IN', ttl: 5, data: { priority: 0, weight: 50, port: 80, target: 'web-0.web.default.svc.cluster.local' } },
        { name: '1.0.42.10.in-addr.arpa', type: 'PTR', class: 'IN', ttl: 5, data: 'web-0.web.default.svc.cluster.local' },
      ],
      authorities: [{ name: 'cluster.local', type: 'SOA', class: 'IN', ttl: 5, data: { mname: 'ns.dns.cluster.local', rname: 'hostmaster.cluster.local', serial: 7, refresh: 7200, retry: 1800, expire: 86400, minimum: 5 } }],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] } as Answer],
    };
    const plain = dnsPacket.encode(packet);
    const small = compressMessage(plain);
    expect(small.length).toBeLessThan(plain.length);
    expect(dnsPacket.decode(small)).toEqual(dnsPacket.decode(plain));
  });

  test('three times as many headless A records fit in a 512-byte answer', () => {
    const fits = (compress: boolean): number => {
      let n = 1;
      for (;; n++) {
        const b = dnsPacket.encode(headless(n));
        if ((compress ? compressMessage(b) : b).length > 512) return n - 1;
      }
    };
    expect(fits(false)).toBe(10);
    expect(fits(true)).toBe(29);
  });

  test('SRV targets stay whole (RFC 2782) while owner names are compressed', () => {
    const b = compressMessage(dnsPacket.encode({
      id: 1, type: 'response', questions: [{ name: 'a.b', type: 'SRV' }],
      answers: [{ name: 'a.b', type: 'SRV', data: { port: 1, target: 'a.b' } }],
    }));
    // The question writes "a.b" in full; the answer's owner is a 2-byte pointer; the target is whole.
    expect(b.includes(Buffer.from([1, 0x61, 1, 0x62, 0]), 12 + 5 + 4 + 2)).toBe(true);
    expect(b.readUInt16BE(12 + 5 + 4)).toBe(0xc000 | 12);
  });

  test('gives back what it cannot walk unchanged', () => {
    const junk = Buffer.from([0, 1, 0x81, 0, 0, 1, 0, 1, 0, 0, 0, 0, 63, 1, 2]);
    expect(compressMessage(junk)).toBe(junk);
    const trailing = Buffer.concat([dnsPacket.encode(headless(1)), Buffer.from([1, 2, 3])]);
    expect(compressMessage(trailing)).toBe(trailing);
  });
});
