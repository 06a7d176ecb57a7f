// install.sh and `k8ts uninstall` end to end, under an install root (so this machine's /etc,
// systemd and kernel are never touched) with the killall's kernel part run inside a network
// namespace of our own; `systemd-analyze verify` of the units it writes; `vagrant validate` of
// the Vagrantfile. The real systemd start, restart and uninstall run in two test VMs
// (test-vm/vm/run-check.sh), in test/e2e/join-vm.test.ts.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { createNetns, deleteNetns, execInNetns } from '../../kernel/netns.js';
import { repoRoot } from './harness.js';
import { loadConfigArgs } from '../../cli/config-file.js';
import { parseAgentArgs } from '../../agent/cli.js';
import { parseServerFlags } from '../../cli/server-flags.js';

jest.setTimeout(120_000);

const ns = `k8ts-t-inst${Math.random().toString(16).slice(2, 8)}`;
const work = mkdtempSync(join(tmpdir(), 'k8ts-install-test-'));

/** Every path under dir, relative, sorted. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(r);
      if (e.isDirectory() && r !== 'opt/k8ts/node_modules' && r !== 'opt/k8ts/dist') walk(join(d, e.name), r);
    }
  };
  walk(dir, '');
  return out.sort();
}

async function installSh(args: string[]) {
  return execa('bash', [join(repoRoot, 'install.sh'), ...args], { reject: false, all: true });
}

beforeAll(async () => {
  await createNetns(ns);
});

afterAll(async () => {
  await deleteNetns(ns).catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
});

describe('install.sh under an install root', () => {
  const root = join(work, 'server-root');

  test('installs the program, a server unit, config, env, sysctls, modules and tools', async () => {
    mkdirSync(join(root, 'var/lib'), { recursive: true }); // as on any Debian root
    const r = await installSh(['--root', root, '--token', 'sekrit', '--', '--https-port', '7443', '--tls-san', 'a.example', '--tls-san', 'b.example']);
    expect(r.all).toContain('installed under');
    expect(r.exitCode).toBe(0);
    expect(tree(root)).toEqual(expect.arrayContaining([
      'etc/k8ts/config.yaml', 'etc/k8ts/k8ts-server.env', 'etc/modules-load.d/k8ts.conf', 'etc/sysctl.d/90-k8ts.conf',
      'etc/systemd/system/k8ts-server.service', 'opt/k8ts/bin/k8ts', 'opt/k8ts/bin/node', 'opt/k8ts/dist', 'opt/k8ts/node_modules',
      'opt/k8ts/install-manifest.json', 'usr/local/bin/k8ts', 'usr/local/bin/k8ts-killall.sh', 'usr/local/bin/k8ts-uninstall.sh',
    ]));
    expect(existsSync(join(root, 'etc/systemd/system/k8ts-agent.service'))).toBe(false);
    // The CNI plugin's launcher names the installed Node and build (cni/install.ts).
    expect(readFileSync(join(root, 'opt/cni/bin/k8ts-cni'), 'utf8')).toContain(`exec '${root}/opt/k8ts/bin/node' '${root}/opt/k8ts/dist/cni/main.js' "$@"`);
    // Only production dependencies are copied.
    expect(existsSync(join(root, 'opt/k8ts/node_modules/pino'))).toBe(true);
    expect(existsSync(join(root, 'opt/k8ts/node_modules/typescript'))).toBe(false);
    // Secrets are readable by root only.
    expect(statSync(join(root, 'etc/k8ts/k8ts-server.env')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(root, 'etc/k8ts/k8ts-server.env'), 'utf8')).toContain('K8TS_TOKEN="sekrit"');
  });

  test('the installed program runs with its own Node and reads its config file', async () => {
    const v = await execa(join(root, 'usr/local/bin/k8ts'), ['version']);
    expect(v.stdout).toBe('k8ts v0.1.0');
    const args = loadConfigArgs(['--config', join(root, 'etc/k8ts/config.yaml')], {});
    const config = parseServerFlags(args, { K8TS_TOKEN: 'sekrit' });
    expect(config).toMatchObject({ httpsPort: 7443, tlsSans: ['a.example', 'b.example'], dataDir: join(root, 'var/lib/k8ts'), token: 'sekrit' });
  });

  test('the unit passes systemd-analyze verify, which does catch a broken unit', async () => {
    const unit = join(root, 'etc/systemd/system/k8ts-server.service');
    const ok = await execa('systemd-analyze', ['verify', unit], { reject: false, all: true });
    expect(ok.all).toBe('');
    expect(ok.exitCode).toBe(0);
    const broken = join(work, 'k8ts-broken.service');
    writeFileSync(broken, readFileSync(unit, 'utf8').replace('KillMode=process', 'KillMode=proces').replace(`${root}/opt/k8ts/bin/k8ts`, '/nonexistent/k8ts'));
    const bad = await execa('systemd-analyze', ['verify', broken], { reject: false, all: true });
    expect(bad.all).toContain('Failed to parse kill mode specification, ignoring: proces');
    expect(bad.all).toContain('Command /nonexistent/k8ts is not executable');
    expect(bad.exitCode).not.toBe(0);
  });

  test('uninstall removes everything it created, and the killall cleans our namespace', async () => {
    // What a node leaves in its network namespace: our nftables table, a bridge, IPVS-free.
    await execInNetns(ns, 'nft', ['add table ip k8ts-proxy']);
    await execInNetns(ns, 'ip', ['link', 'add', 'k8ts0', 'type', 'bridge']);
    await execInNetns(ns, 'ip', ['link', 'add', 'other0', 'type', 'bridge']);
    mkdirSync(join(root, 'var/lib/k8ts/agent'), { recursive: true });
    writeFileSync(join(root, 'var/lib/k8ts/token'), 'K10x::server:y\n');
    const r = await execa('ip', ['netns', 'exec', ns, join(root, 'usr/local/bin/k8ts-uninstall.sh')], { reject: false, all: true });
    expect(r.all).toContain('k8ts is uninstalled');
    expect(r.exitCode).toBe(0);
    expect(tree(root)).toEqual(['var', 'var/lib']);
    expect(await execInNetns(ns, 'nft', ['list', 'tables'])).not.toContain('k8ts');
    const links = await execInNetns(ns, 'ip', ['-o', 'link', 'show']);
    expect(links).not.toContain('k8ts0');
    expect(links).toContain('other0');
  });
});

describe('install.sh for an agent', () => {
  const root = join(work, 'agent-root');

  test('writes the agent unit, the token file and a config the agent reads back', async () => {
    const r = await installSh(['--root', root, '--server', 'https://10.0.0.1:6443', '--token', 'K10abc::server:def', '--', '--node-ip', '10.0.0.2', '--node-labels', 'zone=a',
      '--network', 'vxlan', '--proxy-mode', 'ipvs']);
    expect(r.exitCode).toBe(0);
    expect(existsSync(join(root, 'etc/systemd/system/k8ts-agent.service'))).toBe(true);
    expect(existsSync(join(root, 'etc/systemd/system/k8ts-server.service'))).toBe(false);
    expect(statSync(join(root, 'etc/k8ts/token')).mode & 0o777).toBe(0o600);
    const opts = parseAgentArgs(loadConfigArgs(['--config', join(root, 'etc/k8ts/config.yaml'), '--node-ip', '10.0.0.3'], {}));
    expect(opts).toMatchObject({ server: 'https://10.0.0.1:6443', token: 'K10abc::server:def', nodeIP: '10.0.0.3', nodeLabels: { zone: 'a' }, dataDir: join(root, 'var/lib/k8ts/agent') });
    // The network and proxy modes are config.yaml settings; the agent runs that kube-proxy itself.
    expect(opts).toMatchObject({ network: 'vxlan', proxy: { mode: 'ipvs' } });
    const verify = await execa('systemd-analyze', ['verify', join(root, 'etc/systemd/system/k8ts-agent.service')], { reject: false, all: true });
    expect(verify.all).toBe('');
  });

  test('a second role is refused, and uninstall --keep-data keeps only the data', async () => {
    const again = await installSh(['--root', root]);
    expect(again.all).toContain('k8ts-agent.service is installed: uninstall it first');
    expect(again.exitCode).not.toBe(0);
    mkdirSync(join(root, 'var/lib/k8ts/agent/containerd'), { recursive: true });
    const r = await execa(join(root, 'usr/local/bin/k8ts'), ['uninstall', '--root', root, '--keep-data'], { reject: false, all: true });
    expect(r.exitCode).toBe(0);
    expect(tree(root)).toEqual(['var', 'var/lib', 'var/lib/k8ts', 'var/lib/k8ts/agent', 'var/lib/k8ts/agent/containerd']);
  });

  test('an agent install without a token is refused', async () => {
    const r = await installSh(['--root', join(work, 'no-token'), '--server', 'https://10.0.0.1:6443']);
    expect(r.all).toContain('needs --token T or --token-file F');
    expect(r.exitCode).toBe(2);
  });
});

describe('Vagrantfile', () => {
  test('vagrant validate passes (libvirt provider settings included) and catches a bad setting', async () => {
    const dir = mkdtempSync(join(work, 'vagrant-'));
    copyFileSync(join(repoRoot, 'Vagrantfile'), join(dir, 'Vagrantfile'));
    const env = { VAGRANT_HOME: join(work, 'vagrant-home'), VAGRANT_DEFAULT_PROVIDER: 'libvirt', VAGRANT_CHECKPOINT_DISABLE: '1' };
    const ok = await execa('vagrant', ['validate'], { cwd: dir, env, reject: false, all: true });
    expect(ok.all).toContain('Vagrantfile validated successfully.');
    const modes = await execa('vagrant', ['validate'], { cwd: dir, env: { ...env, K8TS_NETWORK: 'routed', K8TS_PROXY_MODE: 'ipvs', K8TS_AGENTS: '3' }, reject: false, all: true });
    expect(modes.all).toContain('Vagrantfile validated successfully.');
    writeFileSync(join(dir, 'Vagrantfile'), readFileSync(join(dir, 'Vagrantfile'), 'utf8').replace('lv.memory = memory', 'lv.memory = memory\n    lv.no_such_setting = 1'));
    const bad = await execa('vagrant', ['validate'], { cwd: dir, env, reject: false, all: true });
    expect(bad.all).toContain('no_such_setting');
    expect(bad.exitCode).not.toBe(0);
  });
});
