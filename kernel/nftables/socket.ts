// An nfnetlink (NETLINK_NETFILTER) socket that commits nf_tables transactions.
//
// Design notes. The `netlink` package gives us a raw netlink socket of any protocol (its native
// part does socket/bind/sendmsg/recvmsg); everything nf_tables-specific is our own code in
// `encode.ts`. A transaction goes out as ONE sendmsg: the kernel applies a batch only if every
// message in it succeeds, and it only treats the messages between BATCH_BEGIN and BATCH_END of one
// datagram as a batch. So the socket's send buffer must hold the biggest batch (SO_SNDBUF, capped
// by net.core.wmem_max and doubled by the kernel; we refuse larger batches with a clear error
// rather than splitting them, which would break atomicity). Every message carries NLM_F_ACK; the
// kernel reports all results after processing the whole batch, so the commit waits for one answer
// per message, or for an error naming the batch header itself (commit failure, out of memory).
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { DataType, load, open } from 'ffi-rs';
import { RawNetlinkSocket } from 'netlink';
import { withNetnsSync } from '../netns.js';
import { encodeBatch } from './encode.js';
import type { Batch } from './types.js';

const NETLINK_NETFILTER = 12;
const NLMSG_ERROR = 2;
const BUF_SIZE = 64 * 1024 * 1024;

export interface KernelRefusal { readonly errno: number; readonly code: string; readonly message: string }

/** The kernel refused a transaction; nothing of it was applied. */
export class NftError extends Error {
  readonly code = 'KernelRefused';
  constructor(readonly refusals: readonly KernelRefusal[]) {
    super(`nf_tables refused the transaction (nothing applied): ${refusals.slice(0, 5).map((r) => `${r.message}: ${r.code}`).join('; ')}${refusals.length > 5 ? ` and ${refusals.length - 5} more` : ''}`);
    this.name = 'NftError';
  }
}

const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 7: 'E2BIG', 12: 'ENOMEM', 16: 'EBUSY', 17: 'EEXIST', 22: 'EINVAL', 34: 'ERANGE',
  75: 'EOVERFLOW', 90: 'EMSGSIZE', 93: 'EPROTONOSUPPORT', 95: 'EOPNOTSUPP', 105: 'ENOBUFS',
};

export interface CommitStats { readonly bytes: number; readonly messages: number; readonly encodeMs: number; readonly kernelMs: number }

export class NfTablesSocket {
  private readonly sock: RawNetlinkSocket;
  private seq = Math.floor(Math.random() * 0x3fffffff);
  private pending: ((buf: Buffer) => void) | undefined;
  private sendLimit: number;
  private closed = false;

  private constructor(sock: RawNetlinkSocket) {
    this.sock = sock;
    this.sendLimit = sock.getSendBufferSize() - 64;
    sock.on('message', (m) => this.pending?.(m));
    sock.unref();
  }

  /** Opens a socket in the current network namespace, or in the named one. */
  static open(netns?: string): NfTablesSocket {
    const make = (): RawNetlinkSocket => {
      const sock = new RawNetlinkSocket(NETLINK_NETFILTER, { recvBufferSize: BUF_SIZE, sendBufferSize: BUF_SIZE });
      forceBufferSizes(sock);
      return sock;
    };
    return new NfTablesSocket(netns === undefined ? make() : withNetnsSync(netns, make));
  }

  /** The biggest transaction this socket can send in one piece. */
  get maxBatchBytes(): number { return this.sendLimit; }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sock.close();
  }

  private queue: Promise<unknown> = Promise.resolve();

  /**
   * Sends the batch as one transaction; resolves when the kernel committed it, rejects with
   * NftError (nothing applied). Concurrent calls are serialized: one transaction in flight.
   */
  commit(batch: Batch, timeoutMs = 60_000): Promise<CommitStats> {
    const run = this.queue.then(() => this.commitNow(batch, timeoutMs));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async commitNow(batch: Batch, timeoutMs: number): Promise<CommitStats> {
    const t0 = performance.now();
    if (batch.ops.length === 0) return { bytes: 0, messages: 0, encodeMs: 0, kernelMs: 0 };
    const firstSeq = this.seq;
    const enc = encodeBatch(batch, firstSeq);
    this.seq = (this.seq + enc.messages.length) % 0x7fffffff;
    const t1 = performance.now();
    if (enc.bytes.length > this.sendLimit) {
      throw new NftError([{ errno: 90, code: 'EMSGSIZE', message: `transaction of ${enc.bytes.length} bytes exceeds the socket send buffer (${this.sendLimit}); raise net.core.wmem_max` }]);
    }
    // Messages expecting an answer: all but BATCH_BEGIN (index 0) and BATCH_END (last).
    const expected = enc.messages.length - 2;
    const answered = new Set<number>();
    const refusals: KernelRefusal[] = [];
    this.sock.ref();
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.pending = undefined;
          reject(new NftError([{ errno: 62, code: 'ETIME', message: `no answer for ${expected - answered.size} of ${expected} messages after ${timeoutMs} ms` }]));
        }, timeoutMs);
        const finish = (): void => {
          clearTimeout(timer);
          this.pending = undefined;
          if (refusals.length) reject(new NftError(refusals)); else resolve();
        };
        this.pending = (buf) => {
          for (let off = 0; off + 16 <= buf.length;) {
            const len = buf.readUInt32LE(off);
            const type = buf.readUInt16LE(off + 4);
            if (len < 16) break;
            if (type === NLMSG_ERROR && len >= 36) {
              const errno = -buf.readInt32LE(off + 16);
              const seq = buf.readUInt32LE(off + 16 + 4 + 8);
              const idx = seq - firstSeq;
              if (idx >= 0 && idx < enc.messages.length) {
                if (errno !== 0) refusals.push({ errno, code: ERRNO_NAMES[errno] ?? `errno ${errno}`, message: enc.messages[idx]! });
                if (idx === 0) { finish(); return; } // the whole batch failed (commit or OOM)
                answered.add(idx);
              }
            }
            off += (len + 3) & ~3;
          }
          if (answered.size >= expected) finish();
        };
        this.sock.send(enc.bytes, {}, (err) => {
          if (err) { clearTimeout(timer); this.pending = undefined; reject(new NftError([{ errno: err.errno, code: err.code, message: 'sendmsg' }])); }
        });
      });
    } finally {
      this.sock.unref();
    }
    return { bytes: enc.bytes.length, messages: enc.messages.length, encodeMs: t1 - t0, kernelMs: performance.now() - t1 };
  }
}

/**
 * SO_SNDBUF/SO_RCVBUF are capped by net.core.{w,r}mem_max (4 MB here), which bounds one
 * transaction to ~8 MB (≈ 10 000 services × 10 endpoints). As root, SO_*BUFFORCE lifts the cap,
 * as `nft` does. The `netlink` package does not expose its descriptor, so we find it: the socket's
 * inode from /proc/thread-self/net/netlink (this thread is in the socket's namespace right now) by
 * protocol and port id, then the fd in /proc/self/fd that points at that inode. Best effort: on any
 * failure the capped size stays and oversized batches are refused with a clear error.
 */
function forceBufferSizes(sock: RawNetlinkSocket): void {
  try {
    const port = sock.address().port;
    let inode: string | undefined;
    for (const line of readFileSync('/proc/thread-self/net/netlink', 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[1] === String(NETLINK_NETFILTER) && Number(f[2]) === port) inode = f[9];
    }
    if (!inode) return;
    const fd = readdirSync('/proc/self/fd').map(Number).find((n) => {
      try { return readlinkSync(`/proc/self/fd/${n}`) === `socket:[${inode}]`; } catch { return false; }
    });
    if (fd === undefined) return;
    open({ library: 'libc', path: '' });
    const SOL_SOCKET = 1, SO_SNDBUFFORCE = 32, SO_RCVBUFFORCE = 33;
    for (const opt of [SO_SNDBUFFORCE, SO_RCVBUFFORCE]) {
      load({
        library: 'libc', funcName: 'setsockopt', retType: DataType.I32,
        paramsType: [DataType.I32, DataType.I32, DataType.I32, DataType.I32Array, DataType.I32],
        paramsValue: [fd, SOL_SOCKET, opt, [BUF_SIZE], 4],
      });
    }
  } catch { /* keep the capped sizes */ }
}
