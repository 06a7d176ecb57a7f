// runTrace's flag handling: what it refuses before it reads anything (no API, no kernel).
import { jest } from '@jest/globals';
import { runTrace, traceUsage } from './cli.js';

describe('runTrace', () => {
  let stderr: string;
  beforeEach(() => {
    stderr = '';
    jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => { stderr += String(s); return true; });
  });
  afterEach(() => jest.restoreAllMocks());

  it('prints its usage for --help', async () => {
    let out = '';
    expect(await runTrace(['--help'], s => { out += s; })).toBe(0);
    expect(out).toBe(traceUsage);
  });
  it('needs --from and --to', async () => {
    expect(await runTrace(['--from', 'client'])).toBe(2);
    expect(stderr).toContain('--from and --to are needed');
  });
  it('rejects an unknown output format, protocol or flag, naming the value', async () => {
    expect(await runTrace(['--from', 'a', '--to', 'b', '-o', 'yaml'])).toBe(2);
    expect(stderr).toContain('invalid --output "yaml": text, json');
    expect(await runTrace(['--from', 'a', '--to', 'b', '--protocol', 'icmp'])).toBe(2);
    expect(stderr).toContain('invalid --protocol "icmp"');
    expect(await runTrace(['--from', 'a', '--to', 'b', '--bogus'])).toBe(2);
    expect(stderr).toMatch(/Unknown option '--bogus'/);
  });
  it('names a lab that does not exist, or a lab name that cannot be', async () => {
    expect(await runTrace(['--from', 'a', '--to', 'b', '--lab', 'nolab-k8ts'])).toBe(2);
    expect(stderr).toContain('no lab "nolab-k8ts"');
    expect(await runTrace(['--from', 'a', '--to', 'b', '--lab', 'No/Lab'])).toBe(2);
    expect(stderr).toContain('invalid lab name "No/Lab"');
  });
});
