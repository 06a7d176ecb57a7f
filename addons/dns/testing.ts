// Test and bench helpers: a minimal DNS client over UDP and TCP, and a fake upstream resolver
// that answers from a table and counts the questions it got (to see the cache at work).
import { createSocket } from 'node:dgram';
import { connect, createServer, type Server } from 'node:net';
import dnsPacket, { type Answer, type DecodedPacket, type Packet } from 'dns-packet';

let nextId = 1;

export function queryPacket(name: string, type = 'A', opts: { edns?: number; id?: number } = {}): Packet {
  return {
    id: opts.id ?? (nextId = (nextId + 1) & 0xffff), type: 'query', flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type: type as 'A', class: 'IN' }],
    ...(opts.edns ? { additionals: [{ type: 'OPT', name: '.', udpPayloadSize: opts.edns, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] } : {}),
  };
}

/** Sends raw bytes over UDP and resolves with the raw reply, or undefined after `timeoutMs`. */
export function udpRaw(host: string, port: number, msg: Buffer, timeoutMs = 2000): Promise<Buffer | undefined> {
  const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  return new Promise(resolve => {
    const timer = setTimeout(() => { sock.close(); resolve(undefined); }, timeoutMs);
    sock.on('message', m => { clearTimeout(timer); sock.close(); resolve(m); });
    sock.on('error', () => { clearTimeout(timer); sock.close(); resolve(undefined); });
    sock.send(msg, port, host);
  });
}

export async function udpQuery(host: string, port: number, name: string, type = 'A', opts: { edns?: number } = {}): Promise<DecodedPacket> {
  // Three tries, as stub resolvers make: UDP may drop a datagram on a busy machine.
  let reply: Buffer | undefined;
  for (let attempt = 0; attempt < 3 && !reply; attempt++) reply = await udpRaw(host, port, dnsPacket.encode(queryPacket(name, type, opts)));
  if (!reply) throw new Error(`no UDP reply for ${name} ${type}`);
  return dnsPacket.decode(reply) as DecodedPacket;
}

export function tcpQuery(host: string, port: number, name: string, type = 'A', timeoutMs = 2000): Promise<DecodedPacket> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`no TCP reply for ${name}`)); }, timeoutMs);
    sock.on('connect', () => sock.write(dnsPacket.streamEncode(queryPacket(name, type))));
    sock.on('data', c => {
      buf = Buffer.concat([buf, c]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        clearTimeout(timer);
        sock.destroy();
        resolve(dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0))) as DecodedPacket);
      }
    });
    sock.on('error', err => { clearTimeout(timer); reject(err); });
  });
}

export const rcodeOf = (p: DecodedPacket): string => (p as unknown as { rcode: string }).rcode;

/** A fake recursive resolver: `records[name]` answers A/AAAA/TXT; others get NXDOMAIN with an SOA. */
export class FakeUpstream {
  readonly questions: string[] = [];
  private readonly udp = createSocket('udp4');
  private tcp: Server | undefined;
  port = 0;

  constructor(readonly host: string, readonly records: Record<string, Answer[]>) {}

  private reply(msg: Buffer): Buffer | undefined {
    let q: DecodedPacket;
    try { q = dnsPacket.decode(msg) as DecodedPacket; } catch { return undefined; }
    const question = q.questions?.[0];
    if (!question) return undefined;
    this.questions.push(`${question.name} ${question.type}`);
    const answers = (this.records[question.name.toLowerCase()] ?? []).filter(a => a.type === question.type);
    const known = question.name.toLowerCase() in this.records;
    return dnsPacket.encode({
      id: q.id ?? 0, type: 'response', flags: dnsPacket.RECURSION_AVAILABLE | (known ? 0 : 3), questions: [question], answers,
      authorities: answers.length ? [] : [{ name: 'example', type: 'SOA', ttl: 60, class: 'IN', data: { mname: 'ns.example', rname: 'h.example', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 60 } }],
    });
  }

  async start(port = 0): Promise<void> {
    await new Promise<void>((res, rej) => { this.udp.once('error', rej); this.udp.bind(port, this.host, () => res()); });
    this.port = this.udp.address().port;
    this.udp.on('message', (m, r) => { const out = this.reply(m); if (out) this.udp.send(out, r.port, r.address); });
    this.tcp = createServer(s => {
      let buf = Buffer.alloc(0);
      s.on('error', () => undefined);
      s.on('data', c => {
        buf = Buffer.concat([buf, c]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const out = this.reply(buf.subarray(2, 2 + buf.readUInt16BE(0)));
          buf = buf.subarray(2 + buf.readUInt16BE(0));
          if (out) { const len = Buffer.alloc(2); len.writeUInt16BE(out.length); s.write(Buffer.concat([len, out])); }
        }
      });
    });
    await new Promise<void>(res => this.tcp!.listen(this.port, this.host, () => res()));
  }

  async stop(): Promise<void> {
    await new Promise<void>(r => this.udp.close(() => r()));
    if (this.tcp) await new Promise<void>(r => this.tcp!.close(() => r()));
  }
}
