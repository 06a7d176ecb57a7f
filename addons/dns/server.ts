// The thin shell: UDP and TCP listeners on one address and port, each message through
// `answer()` (parse → resolve in the zone → or forward) and back. Nothing here may throw out of a
// socket handler: a bad message costs a FORMERR or nothing, never the process. TCP follows RFC
// 7766: 2-byte length framing, several queries per connection answered as they complete, an
// idle timeout, and a bound on connections and on buffered bytes per connection.
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server, type Socket as TcpSocket } from 'node:net';
import type { Question } from 'dns-packet';
import type { Forwarder } from './forward.js';
import { resolve, type Zone } from './zone.js';
import { buildResponse, encodeResponse, headerOnly, MAX_TCP_MESSAGE, parseQuery } from './wire.js';

export interface DnsServerOptions {
  zone: Zone;
  /** Names outside the zone; without one they get REFUSED. */
  forwarder?: Forwarder;
  host: string;
  /** 0 picks a free port (the same one for UDP and TCP). */
  port: number;
  tcpIdleMs?: number;
  maxTcpConnections?: number;
  onError?: (err: unknown) => void;
}

export interface DnsStats { udpQueries: number; tcpQueries: number; formerr: number; dropped: number; forwarded: number; truncated: number; errors: number }

/** Answers one message; `limit` is the transport's size limit (UDP: from EDNS). Never throws. */
export async function answer(zone: Zone, forwarder: Forwarder | undefined, msg: Buffer, transport: 'udp' | 'tcp', stats?: DnsStats): Promise<Buffer | undefined> {
  try {
    const q = parseQuery(msg);
    if (q.kind === 'drop') { if (stats) stats.dropped++; return undefined; }
    if (q.kind === 'error') { if (stats) stats.formerr++; return q.response; }
    const limit = transport === 'udp' ? q.udpLimit : MAX_TCP_MESSAGE;
    const r = resolve(zone, q.question.name, q.question.type, q.question.class ?? 'IN');
    let response;
    if (r.kind === 'answer') {
      response = buildResponse(q, { ...r, authoritative: r.rcode !== 'NOTIMP' });
    } else if (!forwarder) {
      response = buildResponse(q, { rcode: 'REFUSED' });
    } else if (r.kind === 'forward') {
      if (stats) stats.forwarded++;
      const up = await forwarder.query(q.question);
      response = buildResponse(q, up);
    } else {
      if (stats) stats.forwarded++;
      const target: Question = { name: r.target, type: q.question.type, class: q.question.class ?? 'IN' };
      const up = await forwarder.query(target);
      response = buildResponse(q, { rcode: up.rcode, answers: [...r.answers, ...up.answers] as never, authorities: up.authorities });
    }
    const out = encodeResponse(response, limit, msg);
    if (stats && out.length >= 4 && (out.readUInt16BE(2) & 0x0200)) stats.truncated++;
    return out;
  } catch (err) {
    if (stats) stats.errors++;
    return msg.length >= 12 ? headerOnly(msg, 'SERVFAIL') : undefined;
  }
}

export class DnsServer {
  private udp: Socket | undefined;
  private tcp: Server | undefined;
  private readonly conns = new Set<TcpSocket>();
  readonly stats: DnsStats = { udpQueries: 0, tcpQueries: 0, formerr: 0, dropped: 0, forwarded: 0, truncated: 0, errors: 0 };
  port = 0;

  constructor(private readonly opts: DnsServerOptions) {}

  get address(): { host: string; port: number } { return { host: this.opts.host, port: this.port }; }

  async start(): Promise<void> {
    // With port 0 the kernel picks the UDP port; TCP must get the same one, so retry on a clash.
    for (let attempt = 0; ; attempt++) {
      const udp = await this.bindUdp(this.opts.port);
      const port = udp.address().port;
      try {
        this.tcp = await this.bindTcp(port);
        this.udp = udp;
        this.port = port;
        return;
      } catch (err) {
        udp.close();
        if (this.opts.port !== 0 || attempt >= 20) throw err;
      }
    }
  }

  private bindUdp(port: number): Promise<Socket> {
    // A large receive buffer absorbs bursts (the kernel caps it at net.core.rmem_max).
    const sock = createSocket({ type: this.opts.host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 4 * 1024 * 1024, sendBufferSize: 4 * 1024 * 1024 });
    return new Promise((res, rej) => {
      sock.once('error', rej);
      sock.bind(port, this.opts.host, () => {
        sock.removeListener('error', rej);
        sock.on('error', err => this.opts.onError?.(err));
        sock.on('message', (msg, rinfo) => {
          this.stats.udpQueries++;
          void answer(this.opts.zone, this.opts.forwarder, msg, 'udp', this.stats).then(out => {
            if (out && this.udp) this.udp.send(out, rinfo.port, rinfo.address, err => { if (err) this.opts.onError?.(err); });
          });
        });
        res(sock);
      });
    });
  }

  private bindTcp(port: number): Promise<Server> {
    const srv = createServer(sock => this.onConnection(sock));
    return new Promise((res, rej) => {
      srv.once('error', rej);
      srv.listen({ port, host: this.opts.host, exclusive: true }, () => {
        srv.removeListener('error', rej);
        srv.on('error', err => this.opts.onError?.(err));
        res(srv);
      });
    });
  }

  private onConnection(sock: TcpSocket): void {
    if (this.conns.size >= (this.opts.maxTcpConnections ?? 256)) { sock.destroy(); return; }
    this.conns.add(sock);
    sock.setTimeout(this.opts.tcpIdleMs ?? 10_000, () => sock.destroy());
    sock.on('close', () => this.conns.delete(sock));
    sock.on('error', () => sock.destroy());
    let buf = Buffer.alloc(0);
    sock.on('data', chunk => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        this.stats.tcpQueries++;
        void answer(this.opts.zone, this.opts.forwarder, Buffer.from(msg), 'tcp', this.stats).then(out => {
          if (!out || sock.destroyed) return;
          const frame = Buffer.alloc(2 + out.length);
          frame.writeUInt16BE(out.length, 0);
          out.copy(frame, 2);
          sock.write(frame);
        });
      }
      if (buf.length > 2 + MAX_TCP_MESSAGE) sock.destroy();
    });
  }

  async stop(): Promise<void> {
    for (const c of this.conns) c.destroy();
    this.conns.clear();
    const udp = this.udp;
    this.udp = undefined;
    if (udp) await new Promise<void>(r => udp.close(() => r()));
    const tcp = this.tcp;
    this.tcp = undefined;
    if (tcp) await new Promise<void>(r => tcp.close(() => r()));
  }
}
