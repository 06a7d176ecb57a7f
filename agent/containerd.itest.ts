// The containerd supervisor's restart policy, with a stand-in containerd (a node script that
// serves the socket its config names, or one that dies at once), so the timing is the
// supervisor's own: a killed containerd that had run well comes back after the first back-off
// step every time; one that keeps dying backs off.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import { ContainerdSupervisor } from './containerd.js';

jest.setTimeout(60_000);

const dir = mkdtempSync(join(tmpdir(), 'k8ts-containerd-itest-'));
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

/** An executable that takes `--config FILE` as containerd does and then runs `body`. */
function standIn(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!${process.execPath}\nconst { readFileSync, rmSync } = require('node:fs');\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

// Serves the [grpc] address of its config until killed.
const serving = standIn('containerd-serving.cjs', `
const config = readFileSync(process.argv[process.argv.indexOf('--config') + 1], 'utf8');
const address = /\\[grpc\\]\\s*address = "([^"]+)"/.exec(config)[1];
rmSync(address, { force: true });
require('node:net').createServer(s => s.end()).listen(address);
`);
const dying = standIn('containerd-dying.cjs', 'process.exit(1);');

function answers(path: string): Promise<boolean> {
  return new Promise(resolve => {
    const s = connect(path);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ContainerdSupervisor', () => {
  it('restarts a killed containerd after the first back-off step every time when each run was healthy', async () => {
    const runDir = mkdtempSync(join(tmpdir(), 'k8ts-ctd-'));
    const sup = new ContainerdSupervisor({ dataDir: join(dir, 'serving'), runDir, binary: serving, stableRunMs: 500 });
    try {
      await sup.start();
      const took: number[] = [];
      for (let i = 0; i < 5; i++) {
        await sleep(600); // longer than stableRunMs: this run was healthy
        const pid = sup.pid!;
        const t0 = Date.now();
        process.kill(pid, 'SIGKILL');
        for (;;) {
          if (sup.pid !== undefined && sup.pid !== pid && await answers(sup.address)) break;
          if (Date.now() - t0 > 20_000) throw new Error(`containerd not back 20 s after kill ${i + 1}`);
          await sleep(20);
        }
        took.push(Date.now() - t0);
      }
      // Without the reset the fifth restart waits 16 s (500 ms × 2^5).
      expect(Math.max(...took)).toBeLessThan(3000);
    } finally {
      await sup.stop();
      rmSync(runDir, { recursive: true, force: true });
    }
  });

  it('backs off a containerd that keeps dying: 1 s, 2 s, 4 s …', async () => {
    const runDir = mkdtempSync(join(tmpdir(), 'k8ts-ctd-'));
    const delays: number[] = [];
    const sup = new ContainerdSupervisor({
      dataDir: join(dir, 'dying'), runDir, binary: dying,
      log: (msg, f) => { if (msg.startsWith('containerd exited')) delays.push(f!.delayMs as number); },
    });
    try {
      await expect(sup.start(5_000)).rejects.toThrow(/containerd exited at start/);
      await sleep(3500); // the first two restarts, and their deaths
      expect(delays.slice(0, 3)).toEqual([1000, 2000, 4000]);
    } finally {
      await sup.stop();
      rmSync(runDir, { recursive: true, force: true });
    }
  });
});
