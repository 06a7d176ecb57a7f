// The runc wrapper for real (Perl, a bundle on disk, a stand-in runc that records its arguments).
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { ensureRuncWrapper } from './run-as.js';

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'k8ts-run-as-')); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function setup(annotations: Record<string, string>): { wrapper: string; bundle: string } {
  const fakeRunc = join(dir, 'runc');
  writeFileSync(fakeRunc, `#!/bin/sh\necho "$@" > ${join(dir, 'args')}\n`);
  chmodSync(fakeRunc, 0o755);
  const bundle = join(dir, 'bundle');
  mkdirSync(bundle);
  writeFileSync(join(bundle, 'config.json'), JSON.stringify({ ociVersion: '1.0.2', process: { terminal: false, user: { uid: 0, gid: 0 }, args: ['sh'] }, annotations }));
  return { wrapper: ensureRuncWrapper(join(dir, 'data'), '/usr/bin/perl', [fakeRunc])!, bundle };
}

describe('the runc wrapper', () => {
  it('writes the annotated user into the bundle on create and runs runc with the same arguments', async () => {
    const { wrapper, bundle } = setup({ 'io.k8ts.run-as-user': '1000', 'io.k8ts.run-as-group': '3000', 'io.k8ts.supplemental-groups': '4000,4001' });
    const args = ['--root', '/run/x', '--log', 'log.json', 'create', '--bundle', bundle, '--pid-file', 'p', 'ctr-1'];
    await execa(wrapper, args);
    const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { process: { user: unknown; terminal: boolean }; annotations: unknown };
    expect(spec.process.user).toEqual({ uid: 1000, gid: 3000, additionalGids: [4000, 4001] });
    // runc wants annotations as strings: reading them as numbers must not change them.
    expect(spec.annotations).toEqual({ 'io.k8ts.run-as-user': '1000', 'io.k8ts.run-as-group': '3000', 'io.k8ts.supplemental-groups': '4000,4001' });
    expect(spec.process.terminal).toBe(false);
    expect(readFileSync(join(dir, 'args'), 'utf8').trim()).toBe(args.join(' '));
  });

  it('leaves the bundle alone for every other command', async () => {
    const { wrapper, bundle } = setup({ 'io.k8ts.run-as-user': '1000' });
    const before = readFileSync(join(bundle, 'config.json'), 'utf8');
    await execa(wrapper, ['--root', '/run/x', 'start', 'ctr-1']);
    expect(readFileSync(join(bundle, 'config.json'), 'utf8')).toBe(before);
    expect(readFileSync(join(dir, 'args'), 'utf8').trim()).toBe('--root /run/x start ctr-1');
  });

  it('gives an exec\'d process the container\'s supplemental groups, found through the shim\'s <bundle>/log.json', async () => {
    const { wrapper, bundle } = setup({ 'io.k8ts.run-as-user': '1000', 'io.k8ts.supplemental-groups': '4000,4001' });
    const proc = join(dir, 'process.json');
    writeFileSync(proc, JSON.stringify({ terminal: false, user: { uid: 1000, gid: 0 }, args: ['id'], cwd: '/' }));
    const args = ['--root', '/run/x', '--log', join(bundle, 'log.json'), '--log-format', 'json', 'exec', '--process', proc, '--detach', 'ctr-1'];
    await execa(wrapper, args);
    expect(JSON.parse(readFileSync(proc, 'utf8'))).toEqual({ terminal: false, user: { uid: 1000, gid: 0, additionalGids: [4000, 4001] }, args: ['id'], cwd: '/' });
    expect(readFileSync(join(dir, 'args'), 'utf8').trim()).toBe(args.join(' '));
    // A container without supplemental groups: the process spec is left as containerd wrote it.
    writeFileSync(join(bundle, 'config.json'), JSON.stringify({ process: { user: { uid: 1000, gid: 0 } }, annotations: { 'io.k8ts.run-as-user': '1000' } }));
    writeFileSync(proc, '{"user":{"uid":1000,"gid":0}}');
    await execa(wrapper, ['--log', join(bundle, 'log.json'), 'exec', '--process', proc, 'ctr-2']);
    expect(readFileSync(proc, 'utf8')).toBe('{"user":{"uid":1000,"gid":0}}');
  });
});
