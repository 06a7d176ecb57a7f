import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeExec, systemExec } from './exec.js';
import { NetnsCli } from './netns-cli.js';

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'k8ts-netns-test-')); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('NetnsCli', () => {
  it('ensure adds a missing namespace and leaves an existing one alone', async () => {
    const exec = new FakeExec();
    const n = new NetnsCli(exec, dir);
    expect(await n.ensure('k8ts-a')).toBe(join(dir, 'k8ts-a'));
    writeFileSync(join(dir, 'k8ts-b'), '');
    await n.ensure('k8ts-b');
    expect(exec.calls.map(c => [c.file, ...c.args])).toEqual([['ip', 'netns', 'add', 'k8ts-a']]);
  });

  it('remove deletes only an existing namespace, and list filters by prefix', async () => {
    const exec = new FakeExec();
    const n = new NetnsCli(exec, dir);
    writeFileSync(join(dir, 'k8ts-x'), '');
    writeFileSync(join(dir, 'other'), '');
    expect(n.list('k8ts-')).toEqual(['k8ts-x']);
    await n.remove('k8ts-missing');
    await n.remove('k8ts-x').catch(() => undefined); // the fake does not remove the file
    expect(exec.calls.map(c => c.args.join(' '))).toEqual(['netns delete k8ts-x']);
  });

  it('names the namespace and ip\'s message when creation fails', async () => {
    const n = new NetnsCli(new FakeExec(() => ({ exitCode: 1, stdout: '', stderr: 'Cannot create namespace file: Permission denied\n' })), dir);
    await expect(n.ensure('k8ts-c')).rejects.toThrow('creating network namespace "k8ts-c" failed: Cannot create namespace file: Permission denied');
  });
});

describe('systemExec', () => {
  it('reports exit codes and output without throwing, and 127 for a missing program', async () => {
    expect(await systemExec.run('sh', ['-c', 'echo out; echo err >&2; exit 3'])).toEqual({ exitCode: 3, stdout: 'out\n', stderr: 'err\n' });
    expect((await systemExec.run('/no/such/program', [])).exitCode).toBe(127);
    expect(await systemExec.run('cat', [], { input: 'in' })).toMatchObject({ exitCode: 0, stdout: 'in' });
  });
});
