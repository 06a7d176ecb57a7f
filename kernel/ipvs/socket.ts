// A generic-netlink socket for the IPVS family: apply a list of ops, dump virtual and real servers.
//
// Design notes. IPVS has no transactions: every command stands alone. The kernel runs the messages
// of one sendmsg one after another (netlink_rcv_skb) and goes on after a failing one, reporting it
// with NLMSG_ERROR whether or not the message asked for an ACK. So a sync is sent as a few large
// datagrams in which only the last message asks for an ACK: that ACK (or its error) says the
// datagram is done, and any earlier error names its message by sequence number. That costs one
// round trip per ~100 KiB instead of one per command (ipvsadm and libipvs wait for each ACK).
// Failures do not stop the rest: the caller gets an IpvsError listing every refused op, and plans
// its next sync from a fresh dump (`listServices`/`listDests`). The family id is resolved once
// through the genl controller of the `netlink` package; "family not found" means the kernel has no
// IPVS (module ip_vs not loaded or not built), which is reported as such.
import { constants } from 'node:os';
import { createRequire } from 'node:module';
import { RawNetlinkSocket } from 'netlink';
import { withNetnsSync } from '../netns.js';
import {
  IPVS_GENL_NAME, NLMSG_DONE, NLMSG_ERROR, decodeDest, decodeService, describeOp, encodeDump, encodeOps, errorOf,
  serviceKeyText, splitMessages, type IpvsOp, type ObservedRealServer, type VirtualServer, type VirtualServerKey,
} from './encode.js';

const require = createRequire(import.meta.url);
const genl = require('netlink/dist/genl/genl.js') as typeof import('netlink/dist/genl/genl.js');
const genlStructs = require('netlink/dist/genl/structs.js') as typeof import('netlink/dist/genl/structs.js');

const NETLINK_GENERIC = 16;
const CHUNK_BYTES = 96 * 1024; // below the default net.core.wmem_default (208 KiB)

const ERRNO_NAME = new Map<number, string>(Object.entries(constants.errno).map(([k, v]) => [v, k]));
export const errnoText = (n: number): string => ERRNO_NAME.get(n) ?? `errno ${n}`;

export interface IpvsRefusal { readonly what: string; readonly errno: string }

/** IPVS refused operations (the others were applied), or the kernel has no IPVS at all. */
export class IpvsError extends Error {
  readonly code: 'KernelRefused' | 'NoIpvs';
  constructor(readonly refusals: readonly IpvsRefusal[], readonly netns?: string, noIpvs = false) {
    super(noIpvs
      ? `this kernel has no IPVS: the generic netlink family "${IPVS_GENL_NAME}" is missing (load it with "modprobe ip_vs", or use --proxy-mode nftables)`
      : `IPVS refused ${refusals.length} operation(s)${netns ? ` in netns ${netns}` : ''}: ${refusals.slice(0, 5).map((r) => `${r.what}: ${r.errno}`).join('; ')}${refusals.length > 5 ? ` and ${refusals.length - 5} more` : ''}`);
    this.name = 'IpvsError';
    this.code = noIpvs ? 'NoIpvs' : 'KernelRefused';
  }
}

export interface ApplyStats { readonly ops: number; readonly datagrams: number; readonly bytes: number; readonly ms: number }

/** Resolves the IPVS family id with the genl controller; IpvsError NoIpvs when it is missing. */
async function resolveFamily(netns: string | undefined): Promise<number> {
  const make = (): ReturnType<typeof genl.createGenericNetlink> => genl.createGenericNetlink();
  const ctrl = netns === undefined ? make() : withNetnsSync(netns, make);
  try {
    const [fam] = await ctrl.ctrlRequest(genlStructs.Commands.GET_FAMILY, { familyName: IPVS_GENL_NAME }, {});
    if (fam?.familyId === undefined) throw new IpvsError([], netns, true);
    return fam.familyId;
  } catch (e) {
    if (e instanceof IpvsError) throw e;
    // ENOENT from the controller: no such family.
    if (/ENOENT|No such file/.test(String((e as { code?: string }).code ?? e))) throw new IpvsError([], netns, true);
    throw e;
  } finally {
    ctrl.socket.socket.close();
  }
}

export class IpvsSocket {
  private seq = Math.floor(Math.random() * 0x3fffffff);
  private handler: ((buf: Buffer) => void) | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(private readonly sock: RawNetlinkSocket, readonly family: number, readonly netns: string | undefined) {
    sock.on('message', (b) => this.handler?.(b));
    sock.unref();
  }

  /** Opens a socket in the named network namespace (or the current one). */
  static async open(netns?: string): Promise<IpvsSocket> {
    const family = await resolveFamily(netns);
    const make = (): RawNetlinkSocket => new RawNetlinkSocket(NETLINK_GENERIC, { recvBufferSize: 4 * 1024 * 1024, sendBufferSize: 1024 * 1024 });
    return new IpvsSocket(netns === undefined ? make() : withNetnsSync(netns, make), family, netns);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sock.close();
  }

  /** One conversation at a time: a dump and an apply must not interleave on one socket. */
  private one<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /**
   * Sends `bytes` and collects messages until `done(msg)` says so. Resolves with every message
   * received for this exchange (sequence numbers ≥ firstSeq).
   */
  private exchange(bytes: Buffer, firstSeq: number, done: (m: { type: number; seq: number; flags: number; body: Buffer }) => boolean, timeoutMs = 60_000): Promise<ReturnType<typeof splitMessages>> {
    return new Promise((resolve, reject) => {
      const got: ReturnType<typeof splitMessages> = [];
      const timer = setTimeout(() => { this.handler = undefined; this.sock.unref(); reject(new IpvsError([{ what: 'waiting for the kernel', errno: 'ETIME' }], this.netns)); }, timeoutMs);
      this.sock.ref();
      this.handler = (buf) => {
        for (const m of splitMessages(buf)) {
          if (((m.seq - firstSeq) >>> 0) > 0x7fffffff) continue; // a stale answer from an earlier exchange
          got.push(m);
          if (done(m)) {
            clearTimeout(timer);
            this.handler = undefined;
            this.sock.unref();
            resolve(got);
            return;
          }
        }
      };
      this.sock.send(bytes, {}, (err) => {
        if (!err) return;
        clearTimeout(timer);
        this.handler = undefined;
        this.sock.unref();
        reject(new IpvsError([{ what: 'sendmsg', errno: err.code }], this.netns));
      });
    });
  }

  private nextSeq(n: number): number {
    const s = this.seq;
    this.seq = (this.seq + n) % 0x7fffffff;
    return s;
  }

  /**
   * Applies the ops in order. Resolves when all are applied; rejects with IpvsError listing every
   * refused op after trying all of them (IPVS has no transactions: the others stay applied).
   */
  apply(ops: readonly IpvsOp[]): Promise<ApplyStats> {
    return this.one(async () => {
      const t0 = performance.now();
      if (ops.length === 0) return { ops: 0, datagrams: 0, bytes: 0, ms: 0 };
      const first = this.nextSeq(ops.length);
      // Cut into datagrams first, then encode with the last message of each asking for an ACK.
      const sizing = encodeOps(this.family, ops, first, () => false);
      const lastOf = new Set<number>();
      let start = 0;
      for (let i = 0; i < ops.length; i++) {
        const next = sizing.ends[i + 1];
        if (next === undefined || next - start > CHUNK_BYTES) { lastOf.add(i); start = sizing.ends[i]!; }
      }
      const enc = encodeOps(this.family, ops, first, (i) => lastOf.has(i));
      const refusals: IpvsRefusal[] = [];
      let from = 0, byte = 0, datagrams = 0;
      for (let i = 0; i < ops.length; i++) {
        if (!lastOf.has(i)) continue;
        const end = enc.ends[i]!;
        const lastSeq = (first + i) >>> 0;
        const answers = await this.exchange(enc.bytes.subarray(byte, end), (first + from) >>> 0, (m) => m.type === NLMSG_ERROR && m.seq === lastSeq);
        for (const m of answers) {
          if (m.type !== NLMSG_ERROR) continue;
          const errno = errorOf(m);
          if (errno !== 0) refusals.push({ what: describeOp(ops[m.seq - first] ?? { op: 'flush' }), errno: errnoText(errno) });
        }
        datagrams++;
        from = i + 1;
        byte = end;
      }
      if (refusals.length) throw new IpvsError(refusals, this.netns);
      return { ops: ops.length, datagrams, bytes: enc.bytes.length, ms: performance.now() - t0 };
    });
  }

  private dump<T>(req: (seq: number) => Buffer, decode: (m: ReturnType<typeof splitMessages>[number]) => T | undefined, what: string): Promise<T[]> {
    return this.one(async () => {
      const seq = this.nextSeq(1);
      const answers = await this.exchange(req(seq), seq, (m) => m.seq === seq && (m.type === NLMSG_DONE || m.type === NLMSG_ERROR));
      const out: T[] = [];
      for (const m of answers) {
        if (m.seq !== seq) continue;
        if (m.type === NLMSG_ERROR) {
          const errno = errorOf(m);
          if (errno !== 0) throw new IpvsError([{ what, errno: errnoText(errno) }], this.netns);
          continue;
        }
        if (m.type === NLMSG_DONE) continue;
        const v = decode(m);
        if (v !== undefined) out.push(v);
      }
      return out;
    });
  }

  /** Every IPv4 virtual server (not fwmark ones) in this namespace. */
  listServices(): Promise<VirtualServer[]> {
    return this.dump((seq) => encodeDump(this.family, seq), decodeService, 'list virtual servers');
  }

  /** The real servers of one virtual server. */
  listDests(service: VirtualServerKey): Promise<ObservedRealServer[]> {
    return this.dump((seq) => encodeDump(this.family, seq, service), decodeDest, `list real servers of ${serviceKeyText(service)}`);
  }
}
