// k8ts-cni driven as a runtime drives it — the built executable (bin/k8ts-cni → dist/cni/main.js),
// CNI_* in the environment, the configuration on stdin — inside test namespaces that play the node
// (`ip netns exec NODE k8ts-cni`, as the runtime runs plugins in the node's namespace) and the pods.
// The long ADD/DEL loop runs the same commands in-process (node start-up × 400 would dominate).
import { jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { createNetns, deleteNetns, execInNetns, spawnInNetns, type NetnsProcess } from '../kernel/netns.js';
import { cmdAdd, cmdDel } from './attach.js';
import { installCni } from './install.js';
import { parseConfig, parseEnv, type CniResult } from './config.js';
import { hostVethName } from './result.js';

jest.setTimeout(120_000);

const BIN = resolve('bin/k8ts-cni');
const id = randomBytes(3).toString('hex');
const ns = (s: string): string => `k8ts-t-${id}-${s}`;
const NODE_B = ns('nb'); // bridge mode node
const NODE_R = ns('nr'); // routed mode node
const created: string[] = [];
const servers: NetnsProcess[] = [];
let dataDir: string;

async function netns(name: string): Promise<string> {
  await createNetns(name);
  created.push(name);
  return `/run/netns/${name}`;
}

function config(mode: 'bridge' | 'routed', extra: Record<string, unknown> = {}): Record<string, unknown> {
  const podCIDR = mode === 'bridge' ? '10.201.0.0/24' : '10.202.0.0/24';
  return { cniVersion: '1.1.0', name: `net-${mode}`, type: 'k8ts-cni', mode, mtu: 1400, ipam: { podCIDR, dataDir }, ...extra };
}

interface Run { exitCode: number; out: Record<string, unknown> | undefined; stderr: string }

/** Runs the plugin executable in `node`'s namespace with CNI_* env and `conf` on stdin. */
async function plugin(node: string, env: Record<string, string>, conf: unknown): Promise<Run> {
  const r = await execa('ip', ['netns', 'exec', node, BIN], {
    env: { CNI_PATH: '/opt/cni/bin', ...env }, extendEnv: false, reject: false,
    input: typeof conf === 'string' ? conf : JSON.stringify(conf),
  });
  const text = String(r.stdout).trim();
  return { exitCode: r.exitCode ?? -1, out: text ? JSON.parse(text) as Record<string, unknown> : undefined, stderr: String(r.stderr) };
}

const attachEnv = (command: string, cid: string, netnsPath: string, ifname = 'eth0'): Record<string, string> =>
  ({ CNI_COMMAND: command, CNI_CONTAINERID: cid, CNI_NETNS: netnsPath, CNI_IFNAME: ifname });

const ipFiles = (network: string): string[] => {
  try { return readdirSync(join(dataDir, network)).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)).sort(); } catch { return []; }
};

const SERVER = `require('net').createServer(s=>{s.on('error',()=>{});s.end(process.argv[1])}).listen(+process.argv[2],'0.0.0.0')`;
const CLIENT = `const s=require('net').connect({host:process.argv[1],port:+process.argv[2]});let d='';
const t=setTimeout(()=>{console.log('ERR:TIMEOUT');process.exit(0)},3000);s.on('data',x=>d+=x);
s.on('end',()=>{clearTimeout(t);console.log(d)});s.on('error',e=>{clearTimeout(t);console.log('ERR:'+e.code)})`;

async function serve(inNs: string, name: string, port: number): Promise<void> {
  servers.push(spawnInNetns(inNs, process.execPath, ['-e', SERVER, name, String(port)]));
  await new Promise((r) => setTimeout(r, 300));
}
async function connect(fromNs: string, host: string, port: number): Promise<string> {
  for (let i = 0; ; i++) {
    const out = (await execInNetns(fromNs, process.execPath, ['-e', CLIENT, host, String(port)])).trim();
    if (!out.startsWith('ERR:ECONNREFUSED') || i >= 10) return out;
    await new Promise((r) => setTimeout(r, 100)); // the server is still starting
  }
}

const podIP = (r: Record<string, unknown> | undefined): string => ((r as unknown as CniResult).ips![0]!.address).split('/')[0]!;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'k8ts-cni-itest-'));
  await netns(NODE_B);
  await netns(NODE_R);
  // The routed node's own address and default route (as a real node has): the pods talk to it.
  // (a veth pair standing in for the uplink: this kernel has no dummy driver)
  await execInNetns(NODE_R, 'ip', ['link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up1']);
  await execInNetns(NODE_R, 'ip', ['addr', 'add', '192.168.202.1/24', 'dev', 'up0']);
  await execInNetns(NODE_R, 'ip', ['link', 'set', 'up0', 'up']);
  await execInNetns(NODE_R, 'ip', ['link', 'set', 'up1', 'up']);
  await execInNetns(NODE_R, 'ip', ['route', 'add', 'default', 'via', '192.168.202.254']);
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop().catch(() => undefined)));
  for (const n of created.reverse()) await deleteNetns(n).catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
});

describe('k8ts-cni by hand: VERSION and error codes', () => {
  test('VERSION lists 1.0.0 and 1.1.0 and echoes the requested version', async () => {
    const r = await plugin(NODE_B, { CNI_COMMAND: 'VERSION' }, { cniVersion: '1.0.0' });
    expect(r).toMatchObject({ exitCode: 0, out: { cniVersion: '1.0.0', supportedVersions: ['1.0.0', '1.1.0'] } });
  });

  test('bad configuration, undecodable input, unsupported version and bad environment get the spec codes', async () => {
    const p = await netns(ns('perr'));
    const add = attachEnv('ADD', 'err1', p);
    const cases: [Record<string, string>, unknown, number][] = [
      [add, config('bridge', { mtu: 'big' }), 7],
      [add, '{"cniVersion":', 6],
      [add, config('bridge', { cniVersion: '0.3.1' }), 1],
      [add, config('bridge', { ipam: { type: 'host-local', podCIDR: '10.201.0.0/24' } }), 2],
      [{ ...add, CNI_IFNAME: 'this-name-is-too-long' }, config('bridge'), 4],
      [{ ...add, CNI_COMMAND: 'NOPE' }, config('bridge'), 4],
      [attachEnv('ADD', 'err2', '/run/netns/k8ts-t-does-not-exist'), config('bridge'), 3],
    ];
    for (const [env, conf, code] of cases) {
      const r = await plugin(NODE_B, env, conf);
      expect({ exit: r.exitCode, code: r.out?.['code'] }).toEqual({ exit: 1, code });
      expect(r.out).toHaveProperty('msg');
      expect(r.stderr).toContain('k8ts-cni');
    }
    expect(ipFiles('net-bridge')).toEqual([]);
  });

  test('the launcher installCni writes into a CNI bin dir runs the plugin, and reinstalling is a no-op', async () => {
    const binDir = join(dataDir, 'bin');
    const path = installCni({ binDir, mainJs: resolve('dist/cni/main.js') });
    expect(installCni({ binDir, mainJs: resolve('dist/cni/main.js') })).toBe(path);
    const r = await execa(path, [], { env: { CNI_COMMAND: 'VERSION' }, extendEnv: false, input: '{"cniVersion":"1.1.0"}' });
    expect(JSON.parse(String(r.stdout))).toEqual({ cniVersion: '1.1.0', supportedVersions: ['1.0.0', '1.1.0'] });
  });
});

describe('bridge mode', () => {
  let p1: string; let p2: string;
  let r1: Run;

  test('ADD attaches two pods to cni0: addresses, gateway, MTU, hairpin; a second ADD of the same interface fails', async () => {
    p1 = await netns(ns('b1'));
    p2 = await netns(ns('b2'));
    r1 = await plugin(NODE_B, attachEnv('ADD', 'pod-b1', p1), config('bridge'));
    expect(r1.exitCode).toBe(0);
    expect(r1.out).toMatchObject({
      cniVersion: '1.1.0',
      interfaces: [{ name: 'cni0' }, { name: hostVethName('pod-b1', 'eth0') }, { name: 'eth0', mtu: 1400, sandbox: p1 }],
      ips: [{ address: '10.201.0.2/24', gateway: '10.201.0.1', interface: 2 }],
      routes: [{ dst: '0.0.0.0/0', gw: '10.201.0.1' }],
    });
    const r2 = await plugin(NODE_B, attachEnv('ADD', 'pod-b2', p2), config('bridge'));
    expect(podIP(r2.out)).toBe('10.201.0.3');

    const [eth0] = JSON.parse(await execInNetns(ns('b1'), 'ip', ['-j', 'addr', 'show', 'eth0'])) as { mtu: number; address: string; addr_info: { family: string; local: string; prefixlen: number }[] }[];
    expect(eth0!.mtu).toBe(1400);
    expect(eth0!.address).toBe((r1.out!['interfaces'] as { mac: string }[])[2]!.mac);
    expect(eth0!.addr_info.filter((a) => a.family === 'inet')).toEqual([expect.objectContaining({ local: '10.201.0.2', prefixlen: 24 })]);
    const [port] = JSON.parse(await execInNetns(NODE_B, 'ip', ['-j', '-d', 'link', 'show', hostVethName('pod-b1', 'eth0')])) as { master: string; linkinfo: { info_slave_data: { hairpin: boolean } } }[];
    expect(port!.master).toBe('cni0');
    expect(port!.linkinfo.info_slave_data.hairpin).toBe(true);

    const again = await plugin(NODE_B, attachEnv('ADD', 'pod-b1-again', p1), config('bridge'));
    expect(again).toMatchObject({ exitCode: 1, out: { code: 101 } });
    expect(ipFiles('net-bridge')).toEqual(['10.201.0.2', '10.201.0.3']);
  });

  test('real traffic: pod → node (gateway), node → pod and pod → pod', async () => {
    await serve(NODE_B, 'node', 7001);
    await serve(ns('b2'), 'pod-b2', 7001);
    await serve(ns('b1'), 'pod-b1', 7001);
    expect(await connect(ns('b1'), '10.201.0.1', 7001)).toBe('node');
    expect(await connect(NODE_B, '10.201.0.2', 7001)).toBe('pod-b1');
    expect(await connect(ns('b1'), '10.201.0.3', 7001)).toBe('pod-b2');
  });

  test('CHECK passes on the attachment ADD made and fails (code 103) once it is broken', async () => {
    const conf = config('bridge', { prevResult: r1.out });
    expect(await plugin(NODE_B, attachEnv('CHECK', 'pod-b1', p1), conf)).toMatchObject({ exitCode: 0, out: undefined });
    await execInNetns(ns('b1'), 'ip', ['addr', 'flush', 'dev', 'eth0']);
    const bad = await plugin(NODE_B, attachEnv('CHECK', 'pod-b1', p1), conf);
    expect(bad).toMatchObject({ exitCode: 1, out: { code: 103 } });
    expect(String(bad.out!['msg'])).toContain('address 10.201.0.2/24 is missing on eth0');
  });

  test('DEL removes the veth and releases the address; it is idempotent and succeeds when the namespace is gone', async () => {
    const del = attachEnv('DEL', 'pod-b1', p1);
    expect((await plugin(NODE_B, del, config('bridge', { prevResult: r1.out }))).exitCode).toBe(0);
    expect((await plugin(NODE_B, del, config('bridge'))).exitCode).toBe(0);
    expect(await execa('ip', ['-n', NODE_B, 'link', 'show', hostVethName('pod-b1', 'eth0')], { reject: false })).toMatchObject({ exitCode: 1 });
    expect(ipFiles('net-bridge')).toEqual(['10.201.0.3']);
    await deleteNetns(ns('b2'));
    expect((await plugin(NODE_B, attachEnv('DEL', 'pod-b2', p2), config('bridge'))).exitCode).toBe(0);
    expect((await plugin(NODE_B, { ...attachEnv('DEL', 'pod-b2', ''), CNI_NETNS: '' }, config('bridge'))).exitCode).toBe(0);
    expect(ipFiles('net-bridge')).toEqual([]);
  });
});

describe('routed mode', () => {
  test('ADD gives /32 addresses behind 169.254.1.1 and a /32 host route per pod with proto 107; traffic flows', async () => {
    const q1 = await netns(ns('r1'));
    const q2 = await netns(ns('r2'));
    const a1 = await plugin(NODE_R, attachEnv('ADD', 'pod-r1', q1), config('routed'));
    const a2 = await plugin(NODE_R, attachEnv('ADD', 'pod-r2', q2), config('routed'));
    expect(a1.exitCode).toBe(0);
    expect(a1.out).toMatchObject({
      interfaces: [{ name: hostVethName('pod-r1', 'eth0'), mac: 'ee:ee:ee:ee:ee:ee' }, { name: 'eth0', sandbox: q1 }],
      ips: [{ address: '10.202.0.2/32', gateway: '169.254.1.1', interface: 1 }],
    });
    const podRoutes = JSON.parse(await execInNetns(ns('r1'), 'ip', ['-j', 'route', 'show'])) as { dst: string; gateway?: string; dev: string; scope?: string }[];
    expect(podRoutes).toEqual(expect.arrayContaining([
      expect.objectContaining({ dst: 'default', gateway: '169.254.1.1', dev: 'eth0' }),
      expect.objectContaining({ dst: '169.254.1.1', dev: 'eth0', scope: 'link' }),
    ]));
    const hostRoutes = JSON.parse(await execInNetns(NODE_R, 'ip', ['-j', 'route', 'show', 'proto', '107'])) as { dst: string; dev: string }[];
    expect(hostRoutes.map((r) => `${r.dst} ${r.dev}`).sort()).toEqual([`10.202.0.2 ${hostVethName('pod-r1', 'eth0')}`, `10.202.0.3 ${hostVethName('pod-r2', 'eth0')}`]);
    expect((await execInNetns(NODE_R, 'cat', [`/proc/sys/net/ipv4/conf/${hostVethName('pod-r1', 'eth0')}/proxy_arp`])).trim()).toBe('1');
    expect(await execa('ip', ['-n', NODE_R, 'link', 'show', 'cni0'], { reject: false })).toMatchObject({ exitCode: 1 });

    await serve(NODE_R, 'node-r', 7002);
    await serve(ns('r2'), 'pod-r2', 7002);
    await serve(ns('r1'), 'pod-r1', 7002);
    expect(await connect(ns('r1'), '192.168.202.1', 7002)).toBe('node-r');
    expect(await connect(NODE_R, '10.202.0.2', 7002)).toBe('pod-r1');
    expect(await connect(ns('r1'), '10.202.0.3', 7002)).toBe('pod-r2');
    expect(await connect(ns('r2'), '10.202.0.2', 7002)).toBe('pod-r1');

    expect((await plugin(NODE_R, attachEnv('CHECK', 'pod-r1', q1), config('routed', { prevResult: a1.out }))).exitCode).toBe(0);
    await execInNetns(NODE_R, 'ip', ['route', 'del', '10.202.0.2/32']);
    expect((await plugin(NODE_R, attachEnv('CHECK', 'pod-r1', q1), config('routed', { prevResult: a1.out }))).out).toMatchObject({ code: 103 });

    for (const [cid, q, a] of [['pod-r1', q1, a1], ['pod-r2', q2, a2]] as const) {
      expect((await plugin(NODE_R, attachEnv('DEL', cid, q), config('routed', { prevResult: a.out }))).exitCode).toBe(0);
    }
    expect(await execInNetns(NODE_R, 'ip', ['route', 'show', 'proto', '107'])).toBe('');
    expect(ipFiles('net-routed')).toEqual([]);
  });
});

describe('IPAM under load, GC and STATUS', () => {
  // A fresh node: the 12 parallel ADDs also race to create the bridge and its address.
  const NODE_P = ns('np');
  const par = (extra: Record<string, unknown> = {}): Record<string, unknown> => config('bridge', { name: 'net-par', ...extra });

  test('parallel ADDs of 12 pods on a fresh node get 12 distinct addresses and one bridge', async () => {
    await netns(NODE_P);
    const pods = await Promise.all(Array.from({ length: 12 }, (_, i) => netns(ns(`par${i}`))));
    const runs = await Promise.all(pods.map((p, i) => plugin(NODE_P, attachEnv('ADD', `par-${i}`, p), par())));
    expect(runs.map((r) => r.exitCode)).toEqual(Array(12).fill(0));
    const ips = runs.map((r) => podIP(r.out));
    expect(new Set(ips).size).toBe(12);
    expect(ipFiles('net-par')).toEqual([...ips].sort());
    const cni0 = JSON.parse(await execInNetns(NODE_P, 'ip', ['-j', 'addr', 'show', 'cni0'])) as { addr_info: { family: string; local: string }[] }[];
    expect(cni0[0]!.addr_info.filter((a) => a.family === 'inet').map((a) => a.local)).toEqual(['10.201.0.1']);
  });

  test('GC releases every allocation not in cni.dev/valid-attachments', async () => {
    const valid = [{ containerID: 'par-0', ifname: 'eth0' }, { containerID: 'par-5', ifname: 'eth0' }];
    const r = await plugin(NODE_P, { CNI_COMMAND: 'GC' }, par({ 'cni.dev/valid-attachments': valid }));
    expect(r).toMatchObject({ exitCode: 0, out: undefined });
    expect(ipFiles('net-par').length).toBe(2);
    // The pods' namespaces still exist (leaked, as far as the runtime knows): GC removed their veths too.
    const links = JSON.parse(await execInNetns(NODE_P, 'ip', ['-j', 'link', 'show'])) as { ifname: string }[];
    expect(links.filter((l) => l.ifname.startsWith('k8ts')).map((l) => l.ifname).sort()).toEqual([hostVethName('par-0', 'eth0'), hostVethName('par-5', 'eth0')].sort());
    const gcOld = await plugin(NODE_P, { CNI_COMMAND: 'GC' }, par({ cniVersion: '1.0.0' }));
    expect(gcOld.out).toMatchObject({ code: 1 });
  });

  test('STATUS is ready with free addresses and code 50 when the range is exhausted', async () => {
    expect(await plugin(NODE_B, { CNI_COMMAND: 'STATUS' }, config('bridge'))).toMatchObject({ exitCode: 0, out: undefined });
    const tiny = { podCIDR: '10.203.0.0/30', dataDir };
    const p = await netns(ns('tiny'));
    expect((await plugin(NODE_B, attachEnv('ADD', 'tiny-1', p), config('bridge', { name: 'tiny', bridge: 'cni1', ipam: tiny }))).exitCode).toBe(0);
    const st = await plugin(NODE_B, { CNI_COMMAND: 'STATUS' }, config('bridge', { name: 'tiny', ipam: tiny }));
    expect(st).toMatchObject({ exitCode: 1, out: { code: 50 } });
    const full = await plugin(NODE_B, attachEnv('ADD', 'tiny-2', p, 'eth1'), config('bridge', { name: 'tiny', bridge: 'cni1', ipam: tiny }));
    expect(full.out).toMatchObject({ code: 102 });
  });

  test('200 ADD/DEL cycles leak no address and no link', async () => {
    const p = await netns(ns('cyc'));
    const conf = parseConfig(JSON.stringify(config('bridge', { name: 'cycles' })), 'ADD');
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const add = await cmdAdd(parseEnv(attachEnv('ADD', `cyc-${i}`, p)), conf, { hostNetns: NODE_B });
      seen.add(add.ips![0]!.address);
      await cmdDel(parseEnv(attachEnv('DEL', `cyc-${i}`, p)), conf, { hostNetns: NODE_B });
    }
    expect(ipFiles('cycles')).toEqual([]);
    expect(seen.size).toBeGreaterThan(100); // round-robin: a released address is not reused at once
    const links = JSON.parse(await execInNetns(NODE_B, 'ip', ['-j', 'link', 'show'])) as { ifname: string }[];
    expect(links.filter((l) => l.ifname.startsWith('k8ts')).map((l) => l.ifname).sort())
      .toEqual([hostVethName('tiny-1', 'eth0')]);
    expect(JSON.parse(await execInNetns(ns('cyc'), 'ip', ['-j', 'link', 'show'])).map((l: { ifname: string }) => l.ifname)).toEqual(['lo']);
  });
});
