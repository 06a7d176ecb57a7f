// `k8ts server` fails fast and clearly on a bad flag, a busy port or an unusable data dir, and
// exits non-zero without writing anything.
import { createServer, type Server } from 'node:net';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import { execa } from 'execa';
import { freePort, k8tsBin } from './harness.js';

jest.setTimeout(60_000);

const run = (args: string[]) => execa(k8tsBin, args, { reject: false, timeout: 30_000 });
const dirs: string[] = [];
const tempDir = () => { const d = mkdtempSync(join(tmpdir(), 'k8ts-cli-')); dirs.push(d); return d; };
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

describe('k8ts server start-up errors', () => {
  it('names an unknown flag and exits 2', async () => {
    const r = await run(['server', '--no-such-flag']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('unknown flag --no-such-flag');
  });

  it('names a bad CIDR and exits 2', async () => {
    const r = await run(['server', '--service-cidr', '10.43.0.0/33']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('--service-cidr');
    expect(r.stderr).toContain('10.43.0.0/33');
  });

  it('says the port is busy', async () => {
    const port = await freePort();
    const blocker: Server = createServer();
    await new Promise<void>(resolve => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const dataDir = tempDir();
      const r = await run(['server', '--data-dir', dataDir, '--bind-address', '127.0.0.1', '--https-port', String(port), '--disable-agent']);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain(`port ${port} on 127.0.0.1 is already in use`);
    } finally {
      blocker.close();
    }
  });

  it('says the data dir cannot be used', async () => {
    const parent = tempDir();
    const file = join(parent, 'not-a-dir');
    writeFileSync(file, 'x');
    const r = await run(['server', '--data-dir', file, '--https-port', String(await freePort()), '--disable-agent']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`the data dir "${file}" cannot be used`);
  });

  it('refuses an unreachable etcd with the endpoint named', async () => {
    const dataDir = tempDir();
    const port = await freePort();
    const r = await run(['server', '--data-dir', dataDir, '--https-port', String(await freePort()), '--bind-address', '127.0.0.1', '--disable-agent', '--datastore-endpoint', `etcd://127.0.0.1:${port}`]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`127.0.0.1:${port}`);
    expect(existsSync(join(dataDir, 'kubeconfig.yaml'))).toBe(false);
  });

  it('prints the usage with --help', async () => {
    const r = await run(['server', '--help']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('--datastore-endpoint');
  });
});

