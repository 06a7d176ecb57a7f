// `npm run gen:schema`: regenerates api/schema/generated/definitions.json from the installed
// kubernetes-types declarations. The logic lives in ./schema-gen.ts; this shell only does I/O.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SOURCE_MODULES, generateDefinitions, renderDefinitions } from './schema-gen.js';

/** The repository root, from either tools/ (source) or dist/tools/ (compiled). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === 'k8ts') return dir;
    } catch { /* keep climbing */ }
    dir = resolve(dir, '..');
  }
  throw new Error('Cannot find the k8ts repository root above ' + fileURLToPath(import.meta.url));
}

export function readSources(root: string): Record<string, string> {
  const sources: Record<string, string> = {};
  for (const m of SOURCE_MODULES) {
    sources[m.module] = readFileSync(join(root, 'node_modules', 'kubernetes-types', `${m.module}.d.ts`), 'utf8');
  }
  return sources;
}

export const DEFINITIONS_PATH = join('api', 'schema', 'generated', 'definitions.json');

function main(): void {
  const root = repoRoot();
  const text = renderDefinitions(generateDefinitions(readSources(root)));
  const out = join(root, DEFINITIONS_PATH);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, text);
  console.log(`wrote ${out} (${text.length} bytes)`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
