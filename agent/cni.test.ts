import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeExec } from '../kernel/exec.js';
import { CniClient, CniError, defaultConfList, parseNetConf, resultIPv4 } from './cni.js';

let dir: string;
let bin: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'k8ts-cni-test-'));
  bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const p of ['bridge', 'portmap', 'loopback']) writeFileSync(join(bin, p), '');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const addResult = { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: '/run/netns/x' }], ips: [{ address: '10.244.0.7/24', gateway: '10.244.0.1', interface: 0 }] };

describe('CniClient', () => {
  it('writes the default network only into an empty conf dir', () => {
    const conf = join(dir, 'conf');
    const c = new CniClient({ confDir: conf, binDirs: [bin] });
    c.ensureDefaultConfig(defaultConfList({ bridge: 'br-test', podCIDR: '10.244.0.0/24', ipamDataDir: '/x' }));
    const written = JSON.parse(readFileSync(join(conf, '10-k8ts.conflist'), 'utf8')) as { plugins: { bridge: string; ipam: { dataDir: string; ranges: unknown } }[] };
    expect(written.plugins[0]!.bridge).toBe('br-test');
    expect(written.plugins[0]!.ipam).toMatchObject({ dataDir: '/x', ranges: [[{ subnet: '10.244.0.0/24' }]] });
    c.ensureDefaultConfig(defaultConfList({ bridge: 'other', podCIDR: '10.0.0.0/24' }));
    expect(readFileSync(join(conf, '10-k8ts.conflist'), 'utf8')).toContain('br-test');
  });

  it('ADD runs the chain in order with the spec environment and passes prevResult along; DEL runs it in reverse', async () => {
    const conf = join(dir, 'conf');
    mkdirSync(conf);
    writeFileSync(join(conf, '10-net.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'net', plugins: [{ type: 'bridge', bridge: 'b0' }, { type: 'portmap', capabilities: { portMappings: true } }] }));
    const exec = new FakeExec((file, _args, opts) => ({ exitCode: 0, stdout: opts.env?.CNI_COMMAND === 'ADD' ? JSON.stringify(file.endsWith('bridge') ? addResult : { ...addResult, chained: true }) : '', stderr: '' }));
    const c = new CniClient({ confDir: conf, binDirs: ['/nonexistent', bin], exec });
    const result = await c.add('ctr1', '/run/netns/x');
    expect(resultIPv4(result)).toBe('10.244.0.7');
    expect(exec.calls.map(x => x.file)).toEqual([join(bin, 'bridge'), join(bin, 'portmap')]);
    expect(exec.calls[0]!.env).toMatchObject({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'ctr1', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0', CNI_PATH: `/nonexistent:${bin}` });
    expect(JSON.parse(exec.calls[0]!.input!)).toEqual({ cniVersion: '1.0.0', name: 'net', type: 'bridge', bridge: 'b0' });
    expect(JSON.parse(exec.calls[1]!.input!).prevResult).toEqual(addResult);
    exec.calls.length = 0;
    await c.del('ctr1', '/run/netns/x', result);
    expect(exec.calls.map(x => [x.file, x.env?.CNI_COMMAND])).toEqual([[join(bin, 'portmap'), 'DEL'], [join(bin, 'bridge'), 'DEL']]);
  });

  it('reports the plugin\'s JSON error message', async () => {
    const conf = join(dir, 'conf');
    mkdirSync(conf);
    writeFileSync(join(conf, 'a.conf'), JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'bridge' }));
    const exec = new FakeExec(() => ({ exitCode: 1, stdout: JSON.stringify({ code: 11, msg: 'failed to allocate', details: 'range full' }), stderr: '' }));
    const c = new CniClient({ confDir: conf, binDirs: [bin], exec });
    await expect(c.add('x', '/run/netns/x')).rejects.toThrow(new CniError('CNI ADD with plugin "bridge" failed: failed to allocate: range full'));
  });

  it('names a missing plugin and a missing configuration', async () => {
    const conf = join(dir, 'conf');
    mkdirSync(conf);
    const c = new CniClient({ confDir: conf, binDirs: [bin], exec: new FakeExec() });
    await expect(c.add('x', '/p')).rejects.toThrow(/no network configuration in/);
    writeFileSync(join(conf, 'a.conflist'), JSON.stringify({ cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'flannel' }] }));
    await expect(c.add('x', '/p')).rejects.toThrow(/CNI plugin "flannel" not found/);
  });
});

describe('parseNetConf', () => {
  it('wraps a single-plugin .conf into a list and rejects a file with neither', () => {
    expect(parseNetConf(JSON.stringify({ cniVersion: '0.4.0', name: 'n', type: 'bridge', bridge: 'b' }), 'a.conf')).toEqual({ cniVersion: '0.4.0', name: 'n', plugins: [{ type: 'bridge', bridge: 'b' }] });
    expect(() => parseNetConf('{}', 'x.conf')).toThrow(/neither "plugins" nor "type"/);
  });
});
