import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureLogWriter, logWriterUri, perlPath } from './logs-writer.js';

const maybe = existsSync(perlPath) ? it : it.skip;

describe('the CRI log writer', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'k8ts-logw-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('logWriterUri puts the log path as the only query key', () => {
    expect(logWriterUri('/d/bin/w', '/var/log/pods/ns_p_u/c/0.log')).toBe('binary:///d/bin/w?%2Fvar%2Flog%2Fpods%2Fns_p_u%2Fc%2F0.log');
  });

  maybe('turns the stdout and stderr pipes (fds 3 and 4) into CRI lines and signals ready on fd 5', async () => {
    const writer = ensureLogWriter(dir)!;
    expect(ensureLogWriter(dir)).toBe(writer);
    const log = join(dir, '0.log');
    // The shim's layout: fd 3 stdout, fd 4 stderr, fd 5 the ready pipe.
    const p = spawn(writer, [log, ''], { stdio: ['ignore', 'ignore', 'inherit', 'pipe', 'pipe', 'pipe'] });
    const fds = p.stdio as unknown as (NodeJS.ReadableStream & NodeJS.WritableStream)[];
    const [out, err, ready] = [fds[3]!, fds[4]!, fds[5]!];
    await new Promise<void>(r => ready.on('end', () => r()).resume());
    out.write('hello\nwor');
    err.write('oops\n');
    out.end('ld\nlast');
    err.end();
    await new Promise(r => p.on('exit', r));
    const lines = readFileSync(log, 'utf8').split('\n').filter(Boolean);
    for (const l of lines) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) F /);
    expect(lines.map(l => l.replace(/^\S+ /, '')).sort()).toEqual(['stderr F oops', 'stdout F hello', 'stdout F last', 'stdout F world'].sort());
  });
});
