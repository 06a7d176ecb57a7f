// rtnetlink against the real kernel, in throw-away namespaces, with `ip -j` / `bridge -j` as the
// independent witness of what we programmed.
import { jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { createNetns, deleteNetns, execInNetns } from '../netns.js';
import { openRtnl, readSysctl, RTPROT_K8TS, RtnlError, writeSysctl, type Rtnl } from './index.js';

jest.setTimeout(60_000);

const id = randomBytes(3).toString('hex');
const A = `k8ts-t-${id}-ra`;
const B = `k8ts-t-${id}-rb`;
let r: Rtnl;

const ipj = async <T>(ns: string, args: string[]): Promise<T> => JSON.parse(await execInNetns(ns, 'ip', ['-j', ...args])) as T;

beforeAll(async () => {
  await createNetns(A);
  await createNetns(B);
  r = openRtnl(A);
});
afterAll(async () => {
  r?.close();
  await deleteNetns(A);
  await deleteNetns(B);
});

describe('rtnl links', () => {
  test('a veth pair is created with its peer directly in another namespace, with the MTU on both ends', async () => {
    await r.addVeth({ name: 'v0', peerName: 'eth0', peerNetns: B, mtu: 1400, peerMac: '02:00:00:00:00:0b' });
    const [mine] = await ipj<{ ifname: string; mtu: number; link_netnsid?: number }[]>(A, ['link', 'show', 'v0']);
    const [peer] = await ipj<{ ifname: string; mtu: number; address: string }[]>(B, ['link', 'show', 'eth0']);
    expect(mine).toMatchObject({ ifname: 'v0', mtu: 1400 });
    expect(peer).toMatchObject({ ifname: 'eth0', mtu: 1400, address: '02:00:00:00:00:0b' });
    const l = await r.requireLink('v0');
    expect(l.kind).toBe('veth');
    await expect(r.addVeth({ name: 'v0', peerName: 'x' })).rejects.toMatchObject({ name: 'RtnlError', op: 'veth add', errno: 'EEXIST' });
  });

  test('a bridge port gets master, hairpin and up, as ip -d shows', async () => {
    await r.ensureBridge({ name: 'br0', mtu: 1400 });
    await r.ensureBridge({ name: 'br0', mtu: 1400 });
    await r.setMaster('v0', 'br0');
    await r.setBridgePort('v0', { hairpin: true });
    await r.setUp('v0');
    const [d] = await ipj<{ master: string; flags: string[]; linkinfo: { info_slave_kind: string; info_slave_data: { hairpin: boolean } } }[]>(A, ['-d', 'link', 'show', 'v0']);
    expect(d!.master).toBe('br0');
    expect(d!.flags).toContain('UP');
    expect(d!.linkinfo.info_slave_data.hairpin).toBe(true);
    expect((await r.requireLink('v0')).bridgePort).toMatchObject({ hairpin: true });
    await expect(r.ensureBridge({ name: 'v0' })).rejects.toMatchObject({ errno: 'EEXIST' });
  });

  test('a flannel-style VXLAN device is created once, kept when compatible and recreated when not', async () => {
    await r.addVeth({ name: 'u0', peerName: 'u1' });
    await r.setUp('u0');
    await r.ensureAddr('u0', '192.168.77.1/24');
    const spec = { name: 'flannel.1', vni: 1, port: 8472, local: '192.168.77.1', underlay: 'u0', mac: '0a:00:00:00:00:01', mtu: 1350 };
    const first = await r.ensureVxlan(spec);
    expect((await r.ensureVxlan(spec)).index).toBe(first.index);
    const [d] = await ipj<{ mtu: number; address: string; linkinfo: { info_kind: string; info_data: { id: number; port: number; local: string; link: string; learning: boolean } } }[]>(A, ['-d', 'link', 'show', 'flannel.1']);
    expect(d).toMatchObject({ mtu: 1350, address: '0a:00:00:00:00:01' });
    expect(d!.linkinfo).toMatchObject({ info_kind: 'vxlan', info_data: { id: 1, port: 8472, local: '192.168.77.1', link: 'u0', learning: false } });
    const other = await r.ensureVxlan({ ...spec, vni: 2 });
    expect(other.index).not.toBe(first.index);
    expect(other.vxlan?.vni).toBe(2);
    await r.ensureVxlan(spec);
  });

  test('moving a link to another namespace and deleting links', async () => {
    await r.addVeth({ name: 'm0', peerName: 'm1' });
    await r.moveToNetns('m1', B);
    expect(await r.getLink('m1')).toBeUndefined();
    expect((await ipj<{ ifname: string }[]>(B, ['link', 'show', 'm1']))[0]!.ifname).toBe('m1');
    expect(await r.ensureLinkAbsent('m0')).toBe(true);
    expect(await r.ensureLinkAbsent('m0')).toBe(false);
    await expect(r.deleteLink('m0')).rejects.toThrow(new RtnlError('link get', 'm0', 'ENODEV', A).message);
  });
});

describe('rtnl addresses, routes, neighbours and FDB', () => {
  test('addresses are idempotent and match ip addr', async () => {
    await r.ensureAddr('br0', '10.99.0.1/24');
    await r.ensureAddr('br0', '10.99.0.1/24');
    await expect(r.addAddr('br0', '10.99.0.1/24')).rejects.toMatchObject({ errno: 'EEXIST' });
    const ip = await ipj<{ addr_info: { family: string; local: string; prefixlen: number }[] }[]>(A, ['addr', 'show', 'br0']);
    expect(ip[0]!.addr_info.filter((a) => a.family === 'inet')).toEqual([expect.objectContaining({ local: '10.99.0.1', prefixlen: 24 })]);
    expect(await r.listAddrs('br0')).toEqual([{ dev: 'br0', index: expect.any(Number), address: '10.99.0.1', prefix: 24 }]);
    await r.ensureAddrAbsent('br0', '10.99.0.1/24');
    await r.ensureAddrAbsent('br0', '10.99.0.1/24');
    expect(await r.listAddrs('br0')).toEqual([]);
    await r.ensureAddr('br0', '10.99.0.1/24');
  });

  test('routes carry our protocol, onlink, scope, blackhole and table; listing filters by protocol', async () => {
    await r.setUp('br0');
    await r.replaceRoute({ dst: '10.99.1.0/24', via: '10.99.1.0', dev: 'flannel.1', onlink: true });
    await r.replaceRoute({ dst: '10.99.1.0/24', via: '10.99.1.0', dev: 'flannel.1', onlink: true });
    await r.replaceRoute({ dst: '10.98.0.0/16', type: 'blackhole' });
    await r.replaceRoute({ dst: '10.99.0.7/32', dev: 'br0', scope: 'link' });
    await r.replaceRoute({ dst: '10.97.0.0/16', dev: 'br0', table: 1000 });
    await execInNetns(A, 'ip', ['route', 'add', '10.96.0.0/16', 'dev', 'br0']); // not ours
    const ip = await ipj<{ dst: string; gateway?: string; protocol: string; flags: string[]; type?: string; scope?: string }[]>(A, ['route', 'show', 'proto', String(RTPROT_K8TS)]);
    expect(ip.map((x) => x.dst).sort()).toEqual(['10.98.0.0/16', '10.99.0.7', '10.99.1.0/24']);
    expect(ip.find((x) => x.dst === '10.99.1.0/24')).toMatchObject({ gateway: '10.99.1.0', flags: ['onlink'] });
    expect(ip.find((x) => x.dst === '10.98.0.0/16')).toMatchObject({ type: 'blackhole' });
    const ours = await r.listRoutes({ protocol: RTPROT_K8TS });
    expect(ours.map((x) => x.dst).sort()).toEqual(['10.98.0.0/16', '10.99.0.7/32', '10.99.1.0/24']);
    expect(ours.find((x) => x.dst === '10.99.1.0/24')).toMatchObject({ via: '10.99.1.0', dev: 'flannel.1', onlink: true, protocol: RTPROT_K8TS });
    expect(ours.find((x) => x.dst === '10.99.0.7/32')).toMatchObject({ scope: 'link', dev: 'br0' });
    expect(await r.listRoutes({ table: 1000 })).toEqual([expect.objectContaining({ dst: '10.97.0.0/16', table: 1000 })]);
    expect((await ipj<unknown[]>(A, ['route', 'show', 'table', '1000'])).length).toBe(1);
    for (const x of ours) await r.ensureRouteAbsent(x);
    await r.ensureRouteAbsent({ dst: '10.98.0.0/16', type: 'blackhole' });
    expect(await r.listRoutes({ protocol: RTPROT_K8TS })).toEqual([]);
    expect((await r.listRoutes()).some((x) => x.dst === '10.96.0.0/16')).toBe(true);
  });

  test('permanent neighbours and FDB entries (per-MAC replace and all-zeros append)', async () => {
    await r.replaceNeigh({ dev: 'flannel.1', ip: '10.99.1.0', mac: '0a:00:00:00:00:02' });
    await r.replaceNeigh({ dev: 'flannel.1', ip: '10.99.1.0', mac: '0a:00:00:00:00:03' });
    const n = await ipj<{ dst: string; lladdr: string; state: string[] }[]>(A, ['neigh', 'show', 'dev', 'flannel.1']);
    expect(n).toEqual([expect.objectContaining({ dst: '10.99.1.0', lladdr: '0a:00:00:00:00:03', state: ['PERMANENT'] })]);
    await r.replaceFdb({ dev: 'flannel.1', mac: '0a:00:00:00:00:03', dst: '192.168.77.2' });
    await r.replaceFdb({ dev: 'flannel.1', mac: '0a:00:00:00:00:03', dst: '192.168.77.2' });
    await r.appendFdb({ dev: 'flannel.1', mac: '00:00:00:00:00:00', dst: '192.168.77.3' });
    await r.appendFdb({ dev: 'flannel.1', mac: '00:00:00:00:00:00', dst: '192.168.77.4' });
    await r.appendFdb({ dev: 'flannel.1', mac: '00:00:00:00:00:00', dst: '192.168.77.4' });
    const fdb = JSON.parse(await execInNetns(A, 'bridge', ['-j', 'fdb', 'show', 'dev', 'flannel.1'])) as { mac: string; dst?: string; flags: string[]; state: string }[];
    const entries = fdb.filter((e) => e.dst).map((e) => `${e.mac} ${e.dst}`).sort();
    expect(entries).toEqual(['00:00:00:00:00:00 192.168.77.3', '00:00:00:00:00:00 192.168.77.4', '0a:00:00:00:00:03 192.168.77.2']);
    expect((await r.listFdb('flannel.1')).filter((e) => e.dst).length).toBe(3);
    await r.ensureFdbAbsent({ dev: 'flannel.1', mac: '00:00:00:00:00:00', dst: '192.168.77.3' });
    await r.ensureFdbAbsent({ dev: 'flannel.1', mac: '00:00:00:00:00:00', dst: '192.168.77.3' });
    await r.ensureNeighAbsent({ dev: 'flannel.1', ip: '10.99.1.0' });
    await r.ensureNeighAbsent({ dev: 'flannel.1', ip: '10.99.1.0' });
    expect(await r.listNeighs('flannel.1')).toEqual([]);
    expect((await r.listFdb('flannel.1')).filter((e) => e.dst).map((e) => e.dst).sort()).toEqual(['192.168.77.2', '192.168.77.4']);
  });
});

describe('rtnl concurrency', () => {
  test('concurrent calls on one socket are queued, not refused with EBUSY', async () => {
    const all = await Promise.all(Array.from({ length: 30 }, (_, i) =>
      (i % 3 === 0 ? r.listLinks() : i % 3 === 1 ? r.listRoutes() : r.listAddrs())));
    expect(all.every((x) => Array.isArray(x) && x.length > 0)).toBe(true);
    await Promise.all([r.ensureAddr('u0', '192.168.78.1/24'), r.ensureAddr('u0', '192.168.79.1/24'), r.listFdb('flannel.1')]);
    expect((await r.listAddrs('u0')).map((a) => a.address).sort()).toEqual(['192.168.77.1', '192.168.78.1', '192.168.79.1']);
  });
});

describe('sysctls in a namespace', () => {
  test('a write lands in the namespace the thread was switched into, not in another', () => {
    writeSysctl('net/ipv4/ip_forward', '1', A);
    writeSysctl('net/ipv4/conf/v0/proxy_arp', '1', A);
    expect(readSysctl('net/ipv4/ip_forward', A)).toBe('1');
    expect(readSysctl('net/ipv4/ip_forward', B)).toBe('0');
    expect(r.readSysctl('net/ipv4/conf/v0/proxy_arp')).toBe('1');
    expect(() => readSysctl('net/ipv4/conf/v0/proxy_arp', B)).toThrow(expect.objectContaining({ errno: 'ENOENT' }));
    expect(() => writeSysctl('kernel/hostname', 'x', A)).toThrow('invalid sysctl path');
  });

  test('and the shell sees the same value there', async () => {
    expect((await execInNetns(A, 'cat', ['/proc/sys/net/ipv4/ip_forward'])).trim()).toBe('1');
    expect((await execInNetns(B, 'cat', ['/proc/sys/net/ipv4/ip_forward'])).trim()).toBe('0');
  });
});
