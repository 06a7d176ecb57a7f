// Forwarding of names outside the cluster zone to the node's resolvers (resolv.conf's
// `nameserver` lines), with the TTL cache in front and identical in-flight questions coalesced,
// so a burst for one name costs one upstream query. One UDP socket per address family, replies
// matched by id and question; a truncated reply is asked again over TCP. Upstreams are tried in
// order, each with a timeout, as glibc does with `options rotate` off.
import { createSocket, type Socket } from 'node:dgram';
import { connect } from 'node:net';
import { randomInt } from 'node:crypto';
import dnsPacket, { type Answer, type DecodedPacket, type Question } from 'dns-packet';
import { DnsCache, type CachedAnswer } from './cache.js';
import { EDNS_PAYLOAD, questionKey, type Rcode } from './wire.js';

export interface Upstream { host: string; port: number }

/** The `nameserver` addresses of a resolv.conf text, in order (pure). */
export function parseResolvConf(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m?.[1]) out.push(m[1].replace(/%.*$/, ''));
  }
  return out;
}

export interface ForwarderOptions {
  upstreams: Upstream[];
  cache?: DnsCache;
  timeoutMs?: number;
}

interface Pending { resolve: (p: DecodedPacket) => void; key: string }

const RCODES = new Set<Rcode>(['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED']);

export class Forwarder {
  readonly cache: DnsCache;
  private readonly timeoutMs: number;
  private readonly sockets = new Map<4 | 6, Socket>();
  private readonly pending = new Map<number, Pending>();
  private readonly inflight = new Map<string, Promise<CachedAnswer>>();
  readonly stats = { upstreamQueries: 0, timeouts: 0, tcpRetries: 0 };
  private closed = false;

  constructor(private readonly opts: ForwarderOptions) {
    this.cache = opts.cache ?? new DnsCache();
    this.timeoutMs = opts.timeoutMs ?? 2000;
  }

  get upstreams(): readonly Upstream[] { return this.opts.upstreams; }

  /** The answer to `q`, from the cache or the upstreams; SERVFAIL when none answers. */
  query(q: Question): Promise<CachedAnswer> {
    const key = questionKey(q);
    const hit = this.cache.get(key);
    if (hit) return Promise.resolve(hit);
    let p = this.inflight.get(key);
    if (!p) {
      p = this.ask({ name: q.name.toLowerCase().replace(/\.$/, ''), type: q.type, class: q.class ?? 'IN' }, key)
        .then(a => { this.cache.set(key, a); return a; })
        .finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  private async ask(q: Question, key: string): Promise<CachedAnswer> {
    for (const up of this.opts.upstreams) {
      if (this.closed) break;
      try {
        let reply = await this.udp(up, q, key);
        if (reply?.flag_tc) { this.stats.tcpRetries++; reply = await this.tcp(up, q); }
        if (!reply) continue;
        const rc = (reply as { rcode?: string }).rcode as Rcode;
        const rcode: Rcode = RCODES.has(rc) ? rc : 'SERVFAIL';
        if (rcode === 'SERVFAIL' || rcode === 'REFUSED') continue;
        const strip = (list: Answer[] | undefined) => (list ?? []).filter(a => a.type !== 'OPT');
        return { rcode, answers: strip(reply.answers), authorities: strip(reply.authorities) };
      } catch { /* next upstream */ }
    }
    return { rcode: 'SERVFAIL', answers: [], authorities: [] };
  }

  private socket(family: 4 | 6): Socket {
    let s = this.sockets.get(family);
    if (s) return s;
    s = createSocket(family === 4 ? 'udp4' : 'udp6');
    s.on('message', msg => {
      if (msg.length < 12) return;
      const id = msg.readUInt16BE(0);
      const p = this.pending.get(id);
      if (!p) return;
      let packet: DecodedPacket;
      try { packet = dnsPacket.decode(msg) as DecodedPacket; } catch { return; }
      const q = packet.questions?.[0];
      if (!q || questionKey(q) !== p.key) return; // not the reply to our question: ignore (spoofing)
      this.pending.delete(id);
      p.resolve(packet);
    });
    s.on('error', () => undefined);
    s.unref();
    this.sockets.set(family, s);
    return s;
  }

  private freeId(): number {
    for (;;) { const id = randomInt(0, 65536); if (!this.pending.has(id)) return id; }
  }

  private udp(up: Upstream, q: Question, key: string): Promise<DecodedPacket | undefined> {
    this.stats.upstreamQueries++;
    const id = this.freeId();
    const msg = dnsPacket.encode({
      id, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [q],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: EDNS_PAYLOAD, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }],
    });
    const sock = this.socket(up.host.includes(':') ? 6 : 4);
    return new Promise(resolve => {
      const timer = setTimeout(() => { this.pending.delete(id); this.stats.timeouts++; resolve(undefined); }, this.timeoutMs);
      this.pending.set(id, { key, resolve: p => { clearTimeout(timer); resolve(p); } });
      sock.send(msg, up.port, up.host, err => { if (err) { clearTimeout(timer); this.pending.delete(id); resolve(undefined); } });
    });
  }

  private tcp(up: Upstream, q: Question): Promise<DecodedPacket | undefined> {
    const msg = dnsPacket.streamEncode({ id: this.freeId(), type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [q] });
    return new Promise(resolve => {
      const sock = connect({ host: up.host, port: up.port });
      const chunks: Buffer[] = [];
      const done = (p: DecodedPacket | undefined) => { clearTimeout(timer); sock.destroy(); resolve(p); };
      const timer = setTimeout(() => done(undefined), this.timeoutMs);
      sock.on('connect', () => sock.write(msg));
      sock.on('data', c => {
        chunks.push(c);
        const buf = Buffer.concat(chunks);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          try { done(dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0))) as DecodedPacket); } catch { done(undefined); }
        }
      });
      sock.on('error', () => done(undefined));
      sock.on('close', () => done(undefined));
    });
  }

  close(): void {
    this.closed = true;
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
    for (const p of this.pending.values()) p.resolve({ rcode: 'SERVFAIL' } as unknown as DecodedPacket);
    this.pending.clear();
  }
}
