// Runs one TypeScript entry point of control/store without a build: transpiles the folder with swc
// into a temp dir (node_modules linked in), runs the entry there, removes the dir.
// Usage: node control/store/testing/run-ts.mjs control/store/testing/bench-store.ts [args...]
import { transformFileSync } from '@swc/core';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const [entry, ...args] = process.argv.slice(2);
if (!entry) throw new Error('usage: run-ts.mjs <file.ts> [args...]');
const out = mkdtempSync(join(tmpdir(), 'k8ts-run-'));
try {
  writeFileSync(join(out, 'package.json'), '{"type":"module"}');
  symlinkSync(join(root, 'node_modules'), join(out, 'node_modules'), 'dir');
  const walk = dir => readdirSync(dir, { withFileTypes: true }).flatMap(d => (d.isDirectory() ? walk(join(dir, d.name)) : [join(dir, d.name)]));
  for (const file of walk(join(root, 'control', 'store')).filter(f => f.endsWith('.ts') && !/\.i?test\.ts$/.test(f))) {
    const { code } = transformFileSync(file, { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'es6' }, swcrc: false });
    const dest = join(out, relative(root, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, code);
  }
  const target = join(out, relative(root, resolve(entry))).replace(/\.ts$/, '.js');
  const res = spawnSync(process.execPath, [target, ...args], { stdio: 'inherit' });
  process.exitCode = res.status ?? 1;
} finally {
  rmSync(out, { recursive: true, force: true });
}
