import { FakeExec } from '../exec.js';
import { BULK_LINES, Iptables, IptablesError, parseIptablesSave, renderSections, restoreChunks, restoreInput } from './restore.js';

test('parseIptablesSave reads tables, chains and rules', () => {
  const t = parseIptablesSave('# Generated\n*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-X - [0:0]\n-A PREROUTING -j KUBE-X\n-A KUBE-X -d 10.0.0.1/32 -j RETURN\nCOMMIT\n*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n');
  expect([...t.keys()]).toEqual(['nat', 'filter']);
  expect([...t.get('nat')!.chains]).toEqual(['PREROUTING', 'KUBE-X']);
  expect(t.get('nat')!.rules.get('KUBE-X')).toEqual(['-d 10.0.0.1/32 -j RETURN']);
  expect(t.get('filter')!.rules.size).toBe(0);
});

test('restoreInput leaves small inputs and the legacy backend alone', () => {
  const small = '*nat\n:KUBE-X - [0:0]\n-A KUBE-X -j RETURN\nCOMMIT\n';
  expect(restoreInput(small, 'nft')).toBe(small);
  const big = `*nat\n${Array.from({ length: BULK_LINES + 1 }, (_, i) => `:KUBE-SEP-${i} - [0:0]`).join('\n')}\nCOMMIT\n`;
  expect(restoreInput(big, 'legacy')).toBe(big);
});

test('restoreInput puts -S after the last built-in chain line of a large nft table section', () => {
  const rules = Array.from({ length: BULK_LINES + 1 }, (_, i) => `-A KUBE-X -d 10.0.${i >> 8}.${i & 255}/32 -j RETURN`);
  const text = ['*filter', ':KUBE-F - [0:0]', '-A KUBE-F -j RETURN', 'COMMIT', '*nat', ':KUBE-X - [0:0]', '-I PREROUTING 1 -j KUBE-X', ...rules, 'COMMIT', ''].join('\n');
  const out = restoreInput(text, 'nft').split('\n');
  expect(out.slice(0, 8)).toEqual(['*filter', ':KUBE-F - [0:0]', '-A KUBE-F -j RETURN', 'COMMIT', '*nat', ':KUBE-X - [0:0]', '-I PREROUTING 1 -j KUBE-X', '-S']);
  expect(out.filter((l) => l === '-S')).toHaveLength(1);
  expect(out.length).toBe(text.split('\n').length + 1);
});

test('restore runs the backend\'s iptables-restore in the namespace and names the refused line', async () => {
  const exec = new FakeExec((_f, args) => (args.includes('--noflush')
    ? { exitCode: 1, stdout: '', stderr: 'iptables-nft-restore: line 3 failed: Bad rule (does a matching rule exist in that chain?).\n' }
    : { exitCode: 0, stdout: '', stderr: '' }));
  const ipt = new Iptables({ backend: 'nft', netns: 'k8ts-t-x', exec });
  const err = await ipt.restore('*nat\n:KUBE-X - [0:0]\n-D KUBE-X -j RETURN\nCOMMIT\n').catch((e: unknown) => e);
  expect(exec.calls[0]).toMatchObject({ file: 'ip', args: ['netns', 'exec', 'k8ts-t-x', 'iptables-nft-restore', '--noflush', '--wait=5'] });
  expect(err).toBeInstanceOf(IptablesError);
  expect(err).toMatchObject({ code: 'RestoreFailed', line: 3, lineText: '-D KUBE-X -j RETURN' });
});

test('restoreChunks streams sections as restoreInput would send their text, -S after the head of a large nft body', () => {
  const rules = Array.from({ length: BULK_LINES + 5 }, (_, i) => `-A KUBE-X -d 10.0.${i >> 8}.${i & 255}/32 -j RETURN`);
  const sections = [
    { table: 'nat', head: [':KUBE-X - [0:0]', '-I PREROUTING 1 -j KUBE-X'], body: [rules.slice(0, 3).join('\n'), ...rules.slice(3)] },
    { table: 'filter', head: [':KUBE-F - [0:0]'], body: ['-A KUBE-F -j RETURN'] },
  ];
  const text = renderSections(sections);
  expect(text).toBe(['*nat', ':KUBE-X - [0:0]', '-I PREROUTING 1 -j KUBE-X', ...rules, 'COMMIT', '*filter', ':KUBE-F - [0:0]', '-A KUBE-F -j RETURN', 'COMMIT', ''].join('\n'));
  const chunks = [...restoreChunks(sections, 'nft')];
  expect(chunks.length).toBeGreaterThan(1);
  expect(chunks.join('')).toBe(restoreInput(text, 'nft'));
  expect([...restoreChunks(sections, 'legacy')].join('')).toBe(text);
});

test('restore streams sections, counts what it sent, and names a refused line', async () => {
  const exec = new FakeExec((_f, _a, o) => (o.input !== undefined && typeof o.input !== 'string'
    ? { exitCode: 2, stdout: '', stderr: 'iptables-restore: line 4 failed\n' }
    : { exitCode: 0, stdout: '', stderr: '' }));
  const ipt = new Iptables({ backend: 'legacy', exec });
  const err = await ipt.restore([{ table: 'nat', head: [':KUBE-X - [0:0]'], body: ['-A KUBE-X -j RETURN\n-A KUBE-X -j DROP'] }]).catch((e: unknown) => e);
  expect(exec.calls[0]!.input).toBe('*nat\n:KUBE-X - [0:0]\n-A KUBE-X -j RETURN\n-A KUBE-X -j DROP\nCOMMIT\n');
  expect(err).toMatchObject({ code: 'RestoreFailed', line: 4, lineText: '-A KUBE-X -j DROP' });
  await expect(ipt.restore('*nat\nCOMMIT\n')).resolves.toMatchObject({ lines: 2, bytes: 12 });
});

test('a section body that throws ends the input before its COMMIT and fails the restore', async () => {
  const exec = new FakeExec();
  const ipt = new Iptables({ backend: 'nft', exec });
  const body = { *[Symbol.iterator]() { yield '-A KUBE-X -j RETURN'; throw new TypeError('planner bug'); } };
  await expect(ipt.restore([{ table: 'nat', head: [':KUBE-X - [0:0]'], body }])).rejects.toThrow('planner bug');
  expect(exec.calls[0]!.input).not.toContain('COMMIT');
});

test('restoreChunks takes a section\'s line count from its hint instead of counting the body', () => {
  const body = ['-A KUBE-X -j RETURN'];
  const first = (lines: number): string => [...restoreChunks([{ table: 'nat', head: [':KUBE-X - [0:0]'], body, lines }], 'nft')].join('');
  expect(first(BULK_LINES + 1)).toBe('*nat\n:KUBE-X - [0:0]\n-S\n-A KUBE-X -j RETURN\nCOMMIT\n');
  expect(first(1)).toBe('*nat\n:KUBE-X - [0:0]\n-A KUBE-X -j RETURN\nCOMMIT\n');
});
