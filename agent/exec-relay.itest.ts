// The exec output relay (agent/exec.ts) run for real by Perl, as the shim runs it: fd 3 and fd 4
// carry the process's stdout and stderr, closing fd 5 says ready; the agent's ExecOutput socket
// must receive every byte of each stream, apart, even when the shim sends SIGTERM before EOF.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { ensureExecOutputRelay, ExecOutput, execOutputUri } from './exec.js';

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'k8ts-exec-relay-')); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('exec output relay', () => {
  it('is installed once, executable, and named in the log URI by its socket alone', () => {
    const path = ensureExecOutputRelay(dir)!;
    expect(statSync(path).mode & 0o111).not.toBe(0);
    const mtime = statSync(path).mtimeMs;
    expect(ensureExecOutputRelay(dir)).toBe(path);
    expect(statSync(path).mtimeMs).toBe(mtime);
    expect(readFileSync(path, 'utf8')).toContain('IO::Socket::UNIX');
    expect(ensureExecOutputRelay(dir, join(dir, 'no-perl'))).toBeUndefined();
    expect(execOutputUri('/d/bin/k8ts-exec-relay', '/run/k8ts/exec/e-1.sock')).toBe('binary:///d/bin/k8ts-exec-relay?%2Frun%2Fk8ts%2Fexec%2Fe-1.sock');
  });

  it('delivers both streams whole and apart, after a SIGTERM, before the relay exits', async () => {
    const relay = ensureExecOutputRelay(dir)!;
    const output = await ExecOutput.listen(join(dir, 'sock', 'e-1.sock'));
    const got: Record<1 | 2, Buffer[]> = { 1: [], 2: [] };
    output.onData = (stream, d) => got[stream].push(d);
    try {
      const proc = spawn(relay, [output.path], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe', 'pipe'] });
      let stderr = '';
      proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
      const exited = new Promise<number | null>(resolve => proc.on('exit', code => resolve(code)));
      // Ready (fd 5 closed) comes only once the relay is connected.
      const fds = proc.stdio as unknown as (Readable | Writable)[];
      await new Promise<void>(resolve => (fds[5] as Readable).on('close', () => resolve()).resume());
      expect(output.connected).toBe(true);
      const out = Buffer.alloc(300_000);
      for (let i = 0; i < out.length; i++) out[i] = 97 + (i % 26);
      const stdoutW = fds[3] as Writable, stderrW = fds[4] as Writable;
      stdoutW.write(out.subarray(0, 1000));
      stderrW.write('err-1\n');
      proc.kill('SIGTERM'); // the shim's, before it waits: must not cut the streams short
      stdoutW.end(out.subarray(1000));
      stderrW.end('err-2\n');
      await output.drained(10_000);
      expect(await exited).toBe(0);
      expect(stderr).toBe('');
      expect(Buffer.concat(got[1]).equals(out)).toBe(true);
      expect(Buffer.concat(got[2]).toString()).toBe('err-1\nerr-2\n');
    } finally {
      output.close();
    }
  });

  it('stops 2 s after the SIGTERM when a background child holds a stream open and idle', async () => {
    const relay = ensureExecOutputRelay(dir)!;
    const output = await ExecOutput.listen(join(dir, 'e-3.sock'));
    let got = '';
    output.onData = (_stream, d) => { got += d.toString(); };
    try {
      const proc = spawn(relay, [output.path], { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
      const fds = proc.stdio as unknown as (Readable | Writable)[];
      await new Promise<void>(resolve => (fds[5] as Readable).on('close', () => resolve()).resume());
      (fds[3] as Writable).write('before\n');
      (fds[4] as Writable).end();
      await new Promise(r => setTimeout(r, 300));
      const t0 = Date.now();
      proc.kill('SIGTERM');
      const code = await new Promise<number | null>(resolve => proc.on('exit', c => resolve(c)));
      const took = Date.now() - t0;
      expect(code).toBe(0);
      expect(took).toBeGreaterThanOrEqual(1500);
      expect(took).toBeLessThan(6000);
      await output.drained(5000);
      expect(got).toBe('before\n');
      (fds[3] as Writable).destroy();
    } finally {
      output.close();
    }
  });

  it('gives up waiting for a relay that never connects', async () => {
    const output = await ExecOutput.listen(join(dir, 'e-2.sock'));
    const t0 = Date.now();
    await output.drained(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
    expect(output.connected).toBe(false);
    output.close();
  });
});
