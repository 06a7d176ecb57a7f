// Installs k8ts-cni into a CNI bin dir (/opt/cni/bin by default): a two-line shell script that execs
// this checkout's build with the node binary running the installer — the runtime (containerd)
// execs plugins with a minimal environment, so neither `node` on PATH nor a relative path would do.
// Written to a temporary file and renamed, so a runtime never executes a half-written plugin.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface InstallOptions {
  /** Default /opt/cni/bin. */
  binDir?: string;
  /** The built entry point (default: dist/cni/main.js beside this module). */
  mainJs?: string;
  /** Default: the node running this process. */
  nodePath?: string;
}

export function launcherScript(nodePath: string, mainJs: string): string {
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  return `#!/bin/sh\n# k8ts-cni, installed by k8ts (cni/install.ts)\nexec ${q(nodePath)} ${q(mainJs)} "$@"\n`;
}

/** Installs (or refreshes) `<binDir>/k8ts-cni`; returns its path. Idempotent. */
export function installCni(opts: InstallOptions = {}): string {
  const binDir = opts.binDir ?? '/opt/cni/bin';
  const mainJs = opts.mainJs ?? join(dirname(fileURLToPath(import.meta.url)), 'main.js');
  const script = launcherScript(opts.nodePath ?? process.execPath, mainJs);
  const target = join(binDir, 'k8ts-cni');
  let current: string | undefined;
  try { current = readFileSync(target, 'utf8'); } catch { current = undefined; }
  if (current === script) return target;
  mkdirSync(binDir, { recursive: true });
  const tmp = `${target}.tmp-${process.pid}`;
  writeFileSync(tmp, script, { mode: 0o755 });
  renameSync(tmp, target);
  return target;
}
