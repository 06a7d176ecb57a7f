// Turns some of our TypeScript modules into plain ESM in a temp dir, so an integration test can
// run them in a child process (that it may then kill -9) without a build step. node_modules is
// linked in so that the children resolve their packages.
import { transformFileSync } from '@swc/core';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Transpiles `files` (paths relative to the repo root); returns the temp dir mirroring the repo layout. */
export function transpileForChild(files: string[]): string {
  const out = mkdtempSync(join(tmpdir(), 'k8ts-child-'));
  writeFileSync(join(out, 'package.json'), JSON.stringify({ type: 'module' }));
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(out, 'node_modules'), 'dir');
  for (const file of files) {
    const src = join(REPO_ROOT, file);
    const { code } = transformFileSync(src, {
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'es6' },
      sourceMaps: false,
      swcrc: false,
    });
    const dest = join(out, relative(REPO_ROOT, src)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, code);
  }
  return out;
}
