// k8ts-cni's IPAM: addresses from one IPv4 range (the node's podCIDR), persisted on disk.
//
// Design notes. One file per allocated address, `<dataDir>/<network>/<ip>`, created with O_EXCL
// (`open(…, 'wx')`), holding "<containerID>\n<ifname>" — the layout of the reference host-local
// plugin, so an operator reads it the same way. O_EXCL makes the claim of one address atomic in the
// kernel: two parallel ADDs that pick the same candidate cannot both create the file, and the loser
// simply tries the next address. Rejected: one state file under a lock (flock) — every ADD and DEL
// on the node then serialises on the lock, a crashed holder must be detected, and a torn write
// loses every allocation at once; with a file per address a crash loses nothing but the one file
// being written, which GC collects. `last_reserved_ip` is only a hint for round-robin allocation
// (so a released address is not handed out again at once); losing it is harmless.
import { mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync, openSync, writeSync, closeSync, accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { CniError, ErrCode, intToIp, ipToInt, type Ipv4Range, type NetConf } from './config.js';

const LAST = 'last_reserved_ip.0';

export interface Allocation { ip: string; containerID: string; ifname: string }

/**
 * Candidate addresses in the order to try them: round-robin after `last`, wrapping, skipping
 * `used`. Pure.
 */
export function planCandidates(range: Ipv4Range, used: ReadonlySet<string>, last?: string): string[] {
  const start = ipToInt(range.rangeStart)!;
  const end = ipToInt(range.rangeEnd)!;
  const gw = ipToInt(range.gateway)!;
  const l = last === undefined ? undefined : ipToInt(last);
  const first = l !== undefined && l >= start && l < end ? l + 1 : start;
  const out: string[] = [];
  const n = end - start + 1;
  for (let i = 0; i < n; i++) {
    const ip = start + ((first - start + i) % n);
    if (ip === gw) continue;
    const s = intToIp(ip);
    if (!used.has(s)) out.push(s);
  }
  return out;
}

export class Ipam {
  private readonly dir: string;
  constructor(dataDir: string, network: string, private readonly range: Ipv4Range) {
    this.dir = join(dataDir, network);
  }

  /** Every allocation on disk (files that are not addresses are ignored). */
  list(): Allocation[] {
    let names: string[];
    try { names = readdirSync(this.dir); } catch (e) { if (isErrno(e, 'ENOENT')) return []; throw ioError('list', this.dir, e); }
    const out: Allocation[] = [];
    for (const ip of names) {
      if (ipToInt(ip) === undefined) continue;
      let text: string;
      try { text = readFileSync(join(this.dir, ip), 'utf8'); } catch (e) { if (isErrno(e, 'ENOENT')) continue; throw ioError('read', ip, e); }
      const [containerID = '', ifname = ''] = text.split('\n').map((x) => x.trim());
      out.push({ ip, containerID, ifname });
    }
    return out;
  }

  /** The address held by (containerID, ifname), if any. */
  find(containerID: string, ifname: string): string | undefined {
    return this.list().find((a) => a.containerID === containerID && a.ifname === ifname)?.ip;
  }

  /** Claims a free address for (containerID, ifname); code 102 when the range is full. */
  allocate(containerID: string, ifname: string): string {
    try { mkdirSync(this.dir, { recursive: true, mode: 0o755 }); } catch (e) { throw ioError('create', this.dir, e); }
    const existing = this.find(containerID, ifname);
    if (existing) return existing;
    const used = new Set(this.list().map((a) => a.ip));
    let last: string | undefined;
    try { last = readFileSync(join(this.dir, LAST), 'utf8').trim(); } catch { last = undefined; }
    for (const ip of planCandidates(this.range, used, last)) {
      let fd: number;
      try { fd = openSync(join(this.dir, ip), 'wx', 0o644); } catch (e) {
        if (isErrno(e, 'EEXIST')) continue; // a parallel ADD won this one
        throw ioError('create', ip, e);
      }
      try { writeSync(fd, `${containerID}\n${ifname}`); } finally { closeSync(fd); }
      try { writeFileSync(join(this.dir, LAST), ip); } catch { /* only a hint */ }
      return ip;
    }
    throw new CniError(ErrCode.AddressesExhausted, `no free address in ${this.range.subnet}`, `range ${this.range.rangeStart}-${this.range.rangeEnd}, ${used.size} allocated`);
  }

  /** Releases whatever (containerID, ifname) holds; idempotent. Returns the released addresses. */
  release(containerID: string, ifname: string): string[] {
    const gone = this.list().filter((a) => a.containerID === containerID && a.ifname === ifname);
    for (const a of gone) this.remove(a.ip);
    return gone.map((a) => a.ip);
  }

  /** GC: releases every allocation not in `valid`. Returns the released ones. */
  gc(valid: readonly { containerID: string; ifname: string }[]): Allocation[] {
    const keep = new Set(valid.map((a) => `${a.containerID}\n${a.ifname}`));
    const stale = this.list().filter((a) => !keep.has(`${a.containerID}\n${a.ifname}`));
    for (const a of stale) this.remove(a.ip);
    return stale;
  }

  /** STATUS: undefined when ADD can be served, else why not. */
  status(): string | undefined {
    try { mkdirSync(this.dir, { recursive: true }); accessSync(this.dir, constants.W_OK); } catch (e) { return `IPAM directory ${this.dir} is not writable: ${String(e)}`; }
    if (planCandidates(this.range, new Set(this.list().map((a) => a.ip))).length === 0) return `no free address in ${this.range.subnet}`;
    return undefined;
  }

  private remove(ip: string): void {
    try { unlinkSync(join(this.dir, ip)); } catch (e) { if (!isErrno(e, 'ENOENT')) throw ioError('remove', ip, e); }
  }
}

/** The IPAM of a network configuration. */
export function ipamFor(conf: NetConf): Ipam {
  return new Ipam(conf.ipam.dataDir, conf.name, conf.ipam.range);
}

/** STATUS (spec 1.1): code 50 when ADD cannot be served (IPAM unwritable or exhausted). */
export function statusOf(conf: NetConf): void {
  const why = ipamFor(conf).status();
  if (why) throw new CniError(ErrCode.NotAvailable, `k8ts-cni cannot serve ADD: ${why}`);
}

function isErrno(e: unknown, code: string): boolean {
  return !!e && typeof e === 'object' && (e as { code?: unknown }).code === code;
}

function ioError(op: string, what: string, e: unknown): CniError {
  return new CniError(ErrCode.IO, `IPAM: cannot ${op} ${what}`, e instanceof Error ? e.message : String(e));
}
