// `k8ts install`, `k8ts uninstall`, `k8ts killall`: k8ts as a systemd service, as k3s installs
// itself. install.sh (repository root) installs the Debian packages and builds the program, then
// runs `k8ts install`; this module copies the program and writes the files ./install-files.ts
// renders, records each path it created in a manifest, and uninstall removes exactly those.
//
//   k8ts install [--root DIR] [--server URL (--token T | --token-file F)] [--token T]
//                [--no-start] [--source DIR] [--node PATH] [-- FLAGS FOR config.yaml…]
//   k8ts uninstall [--root DIR] [--keep-data]
//   k8ts killall [--root DIR]
//
// Design notes:
// - The program is copied, not linked: /opt/k8ts holds dist/, the production part of
//   node_modules (the dependency closure of package.json, ~60 % of the development tree), and the
//   Node binary that built it, so the native addons match and Debian 12's Node 18 does not matter.
// - An install root (`--root DIR`, or $DESTDIR) relocates everything under DIR, including the
//   data dir, and never touches systemd, sysctls, modules or host-wide kernel state: that is how
//   the tests install and uninstall without touching this machine.
// - Reinstalling keeps an existing config.yaml unless install is given settings for it: an
//   operator's edits survive an upgrade.
import { spawnSync } from 'node:child_process';
import {
  chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, rmdirSync, statSync,
  symlinkSync, writeFileSync,
} from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { defaultRunDir } from '../agent/cli.js';
import { installCni } from '../cni/install.js';
import { argvToConfig, ConfigFileError, parseConfigFile, type ConfigValues } from './config-file.js';
import {
  layout, type Layout, renderConfig, renderEnv, renderKillall, renderModules, renderSysctls, renderUninstall, renderUnit,
  type Role, unitName,
} from './install-files.js';

export interface InstallOptions {
  root: string;
  role: Role;
  server?: string;
  token?: string;
  /** Settings for config.yaml (flags of `k8ts server` / `k8ts agent`). */
  config: ConfigValues;
  /** The checkout or installed tree to copy the program from (has dist/ and package.json). */
  source: string;
  node: string;
  start: boolean;
  log?: (line: string) => void;
}

interface Manifest {
  role: Role;
  root: string;
  /** Files, links and directories install created, in creation order. */
  paths: string[];
  dataDirs: string[];
  runDirs: string[];
}

export class InstallError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InstallError';
  }
}

/** Where this program's own tree is (dist/cli/install.js → the tree's root). */
export function ownSource(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

/**
 * The package directories the program needs at run time: package.json's dependencies and
 * optionalDependencies, resolved as Node resolves them, transitively. Returned as top-level
 * entries of node_modules (`pino`, `@kubernetes/client-node`); nested copies come with them.
 */
export function productionPackages(source: string): string[] {
  const modules = join(source, 'node_modules');
  const seen = new Set<string>();
  const find = (from: string, name: string): string | undefined => {
    for (let dir = from; ; dir = dirname(dir)) {
      if (basename(dir) !== 'node_modules') {
        const candidate = join(dir, 'node_modules', name);
        if (existsSync(join(candidate, 'package.json'))) return candidate;
      }
      if (dir === source || dir === dirname(dir)) return undefined;
    }
  };
  const walk = (dir: string): void => {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> };
    for (const name of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) {
      const found = find(dir, name);
      if (found === undefined || seen.has(found)) continue; // an optional dependency for another platform
      seen.add(found);
      walk(found);
    }
  };
  walk(source);
  const top = new Set<string>();
  for (const p of seen) {
    const parts = relative(modules, p).split(sep);
    top.add(parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!);
  }
  return [...top].sort();
}

function systemdRunning(): boolean {
  return existsSync('/run/systemd/system');
}

function run(cmd: string, args: string[], log: (line: string) => void, mayFail = false): boolean {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  const ok = r.status === 0;
  if (!ok && !mayFail) throw new InstallError(`${cmd} ${args.join(' ')} failed: ${(r.stderr || r.error?.message || '').trim()}`);
  if (!ok) log(`warning: ${cmd} ${args.join(' ')}: ${(r.stderr || r.error?.message || '').trim()}`);
  return ok;
}

/** Records what it creates so that uninstall can remove exactly that. */
class Recorder {
  readonly paths: string[] = [];

  mkdirs(dir: string, mode?: number): void {
    const missing: string[] = [];
    for (let d = dir; !existsSync(d); d = dirname(d)) missing.unshift(d);
    for (const d of missing) {
      mkdirSync(d, mode === undefined ? {} : { mode });
      this.paths.push(d);
    }
  }

  file(path: string, text: string, mode = 0o644): void {
    this.mkdirs(dirname(path));
    const existed = existsSync(path);
    writeFileSync(path, text, { mode });
    chmodSync(path, mode);
    if (!existed) this.paths.push(path);
  }

  link(path: string, target: string): void {
    this.mkdirs(dirname(path));
    rmSync(path, { force: true });
    symlinkSync(target, path);
    this.paths.push(path);
  }

  copy(from: string, to: string): void {
    this.mkdirs(dirname(to));
    const existed = existsSync(to);
    copyFileSync(from, to);
    chmodSync(to, statSync(from).mode & 0o777);
    if (!existed) this.paths.push(to);
  }
}

function readManifest(l: Layout): Manifest | undefined {
  try {
    return JSON.parse(readFileSync(l.manifest, 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
}

export function install(o: InstallOptions): Layout {
  const log = o.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const l = layout(o.root);
  const hostWide = l.root === '/';
  if (!existsSync(join(o.source, 'dist', 'cli', 'main.js'))) {
    throw new InstallError(`"${o.source}" has no dist/cli/main.js: build it first (npm run build), or use install.sh`);
  }
  if (o.token === '') throw new InstallError('the token is empty');
  if (o.role === 'agent' && o.token === undefined && o.config['token-file'] === undefined) {
    throw new InstallError('an agent install needs --token T or --token-file F with --server');
  }
  const other: Role = o.role === 'server' ? 'agent' : 'server';
  if (existsSync(l.unit(other))) throw new InstallError(`${l.unit(other)} is installed: uninstall it first (k8ts uninstall)`);

  const previous = readManifest(l);
  const rec = new Recorder();

  // 1. The program.
  const fromInstalled = resolve(o.source) === resolve(l.installDir);
  if (!fromInstalled) {
    rmSync(join(l.installDir, 'dist'), { recursive: true, force: true });
    rmSync(join(l.installDir, 'node_modules'), { recursive: true, force: true });
    rec.mkdirs(join(l.installDir, 'bin'));
    const packages = productionPackages(o.source);
    log(`copying the program (${packages.length} packages) to ${l.installDir}`);
    const copyStart = Date.now();
    // One `cp` for thousands of files: on a slow machine (the TCG test VM, a share) a copy per
    // file from Node costs minutes.
    const parts = ['dist', 'package.json', 'bin/k8ts', ...(existsSync(join(o.source, 'bin', 'k8ts-cni')) ? ['bin/k8ts-cni'] : []), ...packages.map(p => `node_modules/${p}`)];
    const cp = spawnSync('cp', ['-a', '--parents', ...parts, l.installDir], { cwd: o.source, encoding: 'utf8' });
    if (cp.status !== 0) throw new InstallError(`copying the program to ${l.installDir} failed: ${cp.stderr.trim()}`);
    rec.paths.push(...parts.map(p => join(l.installDir, p)));
    copyFileSync(o.node, join(l.installDir, 'bin', 'node'));
    chmodSync(join(l.installDir, 'bin', 'node'), 0o755);
    rec.paths.push(join(l.installDir, 'bin', 'node'));
    log(`installed the program in ${l.installDir} in ${((Date.now() - copyStart) / 1000).toFixed(1)} s (Node ${o.node})`);
  }
  // The CNI plugin (agent/network.ts looks for k8ts-cni in the CNI bin dirs): its launcher, as the
  // agent itself would write it, but naming the installed Node and build.
  if (existsSync(join(l.installDir, 'dist', 'cni', 'main.js'))) {
    rec.mkdirs(dirname(l.cniBinLink));
    const existed = existsSync(l.cniBinLink);
    installCni({ binDir: dirname(l.cniBinLink), mainJs: join(l.installDir, 'dist', 'cni', 'main.js'), nodePath: join(l.installDir, 'bin', 'node') });
    if (!existed) rec.paths.push(l.cniBinLink);
  }
  rec.link(l.binLink, join(l.installDir, 'bin', 'k8ts'));

  // 2. Configuration: config.yaml (flags), the env file (secrets), the agent's token file.
  const config: ConfigValues = { ...o.config };
  if (!hostWide && config['data-dir'] === undefined) config['data-dir'] = o.role === 'server' ? l.defaultDataDir : `${l.defaultDataDir}/agent`;
  const env: Record<string, string> = {};
  if (o.role === 'agent') {
    config.server = o.server!;
    if (o.token !== undefined) {
      rec.file(l.agentToken, `${o.token}\n`, 0o600);
      config['token-file'] = l.agentToken;
    }
  } else if (o.token !== undefined) {
    env.K8TS_TOKEN = o.token;
  }
  rec.mkdirs(l.configDir);
  const haveSettings = Object.keys(o.config).length > 0 || o.server !== undefined || o.token !== undefined || !hostWide;
  if (!existsSync(l.config) || haveSettings) rec.file(l.config, renderConfig(o.role, config), 0o600);
  else log(`kept the existing ${l.config}`);
  rec.file(l.env(o.role), renderEnv(o.role, env), 0o600);

  // What the data plane needs from the kernel, at every boot.
  rec.file(l.sysctl, renderSysctls());
  rec.file(l.modules, renderModules());

  // 3. The unit and the tools.
  const effective = parseConfigFile(readFileSync(l.config, 'utf8'), l.config);
  const dataDir = String(effective['data-dir'] ?? (o.role === 'server' ? l.defaultDataDir : `${l.defaultDataDir}/agent`));
  const agentDataDir = o.role === 'server' ? join(dataDir, 'agent') : dataDir;
  // Pod logs are data too (the kubelet's --pod-log-dir).
  const podLogDir = String(effective['pod-log-dir'] ?? `${l.root === '/' ? '' : l.root}/var/log/pods`);
  const dataDirs = [dataDir, podLogDir];
  const runDirs = [defaultRunDir(agentDataDir)];
  rec.file(l.unit(o.role), renderUnit(o.role, l));
  rec.file(l.killall, renderKillall({ dataDirs, runDirs, hostWide }), 0o755);
  rec.file(l.uninstall, renderUninstall(l), 0o755);

  const manifest: Manifest = {
    role: o.role, root: l.root,
    paths: [...new Set([...(previous?.paths ?? []), ...rec.paths, l.manifest])],
    dataDirs: [...new Set([...(previous?.dataDirs ?? []), ...dataDirs])],
    runDirs: [...new Set([...(previous?.runDirs ?? []), ...runDirs])],
  };
  writeFileSync(l.manifest, `${JSON.stringify(manifest, null, 2)}\n`);
  log(`wrote ${l.unit(o.role)}, ${l.config}, ${l.env(o.role)}, ${l.sysctl}, ${l.modules}, ${l.killall}`);

  // 4. This machine: modules, sysctls, systemd (never under an install root).
  if (!hostWide) {
    log(`installed under ${l.root}: systemd, modules and sysctls left alone`);
    return l;
  }
  for (const m of renderModules().split('\n').filter(x => x !== '' && !x.startsWith('#'))) run('modprobe', [m], log, true);
  run('/usr/lib/systemd/systemd-sysctl', [l.sysctl], log, true);
  if (!systemdRunning()) {
    log(`systemd is not running here: start k8ts with ${l.installDir}/bin/k8ts ${o.role}`);
    return l;
  }
  run('systemctl', ['daemon-reload'], log);
  run('systemctl', ['enable', unitName(o.role)], log);
  if (o.start) {
    // restart: a reinstall (an upgrade) must run the new program.
    run('systemctl', ['restart', unitName(o.role)], log);
    log(`started ${unitName(o.role)}`);
  }
  return l;
}

/** Runs the installed k8ts-killall.sh; false when there is none. */
export function killall(root: string, log: (line: string) => void): boolean {
  const l = layout(root);
  if (!existsSync(l.killall)) return false;
  const r = spawnSync('sh', [l.killall], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (r.stdout) log(r.stdout.trimEnd());
  if (r.status !== 0) throw new InstallError(`${l.killall} failed: ${r.stderr.trim()}`);
  return true;
}

export function uninstall(root: string, keepData: boolean, log: (line: string) => void): void {
  const l = layout(root);
  const manifest = readManifest(l);
  if (!manifest) throw new InstallError(`no k8ts install found (${l.manifest} is missing)`);
  const hostWide = l.root === '/';
  if (hostWide && systemdRunning()) {
    run('systemctl', ['disable', '--now', unitName(manifest.role)], log, true);
  }
  killall(root, log);
  if (!keepData) {
    for (const d of manifest.dataDirs) rmSync(d, { recursive: true, force: true });
    // An agent's data dir is /var/lib/k8ts/agent: its parent goes too once empty.
    try { if (readdirSync(l.defaultDataDir).length === 0) rmdirSync(l.defaultDataDir); } catch { /* absent */ }
    // The CNI network the agent wrote; its IPAM state is in the data dir.
    rmSync(l.cniConf, { force: true });
  }
  for (const d of manifest.runDirs) rmSync(d, { recursive: true, force: true });
  // Deepest first: files and links, then the directories install created (if now empty).
  for (const p of [...manifest.paths].reverse()) {
    let stat;
    try { stat = lstatSync(p); } catch { continue; }
    if (stat.isDirectory() && !p.startsWith(l.installDir)) {
      if (readdirSync(p).length === 0) rmdirSync(p);
      else log(`kept ${p}: it holds files k8ts did not create`);
    } else rmSync(p, { recursive: true, force: true });
  }
  rmSync(l.installDir, { recursive: true, force: true });
  if (keepData) log(`kept the data in ${manifest.dataDirs.join(', ')}`);
  if (hostWide && systemdRunning()) run('systemctl', ['daemon-reload'], log, true);
  log('k8ts is uninstalled');
}

const installUsage = `usage: k8ts install [--root DIR] [--server URL (--token T | --token-file F)] [--token T] [--no-start] [-- FLAGS]
       k8ts uninstall [--root DIR] [--keep-data]
       k8ts killall [--root DIR]

install copies this program to /opt/k8ts and installs k8ts-server.service, or with --server
k8ts-agent.service; FLAGS after -- (flags of k8ts server or k8ts agent) go into /etc/k8ts/config.yaml.
--root DIR (or $DESTDIR) installs under DIR without touching systemd or the kernel.
`;

export async function runInstallCommand(command: 'install' | 'uninstall' | 'killall', argv: string[]): Promise<number> {
  const dash = argv.indexOf('--');
  const own = dash < 0 ? argv : argv.slice(0, dash);
  const forConfig = dash < 0 ? [] : argv.slice(dash + 1);
  const log = (line: string) => process.stdout.write(`${line}\n`);
  try {
    const { values } = parseArgs({
      args: own, strict: true, allowPositionals: false,
      options: {
        root: { type: 'string' }, server: { type: 'string' }, token: { type: 'string' }, 'token-file': { type: 'string' },
        'no-start': { type: 'boolean' }, source: { type: 'string' }, node: { type: 'string' }, 'keep-data': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) { process.stdout.write(installUsage); return 0; }
    const root = resolve(values.root ?? (process.env.DESTDIR || '/'));
    if (process.getuid?.() !== 0 && root === '/') throw new InstallError(`k8ts ${command} must run as root`);
    if (command === 'killall') {
      if (!killall(root, log)) throw new InstallError(`no k8ts install found (${layout(root).killall} is missing)`);
      return 0;
    }
    if (command === 'uninstall') {
      uninstall(root, values['keep-data'] === true, log);
      return 0;
    }
    const config = argvToConfig(forConfig);
    let token = values.token;
    if (values['token-file'] !== undefined) token = readFileSync(values['token-file'], 'utf8').trim();
    const role: Role = values.server !== undefined ? 'agent' : 'server';
    install({
      root, role, config, start: values['no-start'] !== true,
      source: resolve(values.source ?? ownSource()), node: values.node ?? process.execPath, log,
      ...(values.server !== undefined ? { server: values.server } : {}),
      ...(token !== undefined ? { token } : {}),
    });
    return 0;
  } catch (err) {
    if (err instanceof InstallError || err instanceof ConfigFileError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`k8ts ${command}: ${(err as Error).message}\n`);
      return 2;
    }
    throw err;
  }
}
