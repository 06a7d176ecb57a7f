// k8ts-cni: the executable a CNI runtime (containerd, our kubelet's CNI client) runs. CNI_* in the
// environment, the plugin configuration on stdin; the result (or an error object with the spec's
// code) as JSON on stdout, logs on stderr; exit 0 on success, 1 on error.
//
// Start-up time matters (a pod start runs us once per network): the kernel modules (netlink, the
// ffi-rs setns binding) are imported only by the commands that may touch the kernel, so VERSION
// and STATUS (which containerd calls every few seconds) load nothing but the pure core and IPAM.
import { readFileSync } from 'node:fs';
import { CniError, ErrCode, parseConfig, parseEnv, versionRequest, versionResult } from './config.js';

function readStdin(): string {
  try { return readFileSync(0, 'utf8'); } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'EAGAIN' || code === 'EOF') return '';
    throw new CniError(ErrCode.IO, 'cannot read the network configuration from stdin', e instanceof Error ? e.message : String(e));
  }
}

let stdin = '';

async function run(): Promise<unknown> {
  const req = parseEnv(process.env);
  stdin = readStdin();
  if (req.command === 'VERSION') return versionResult(versionRequest(stdin));
  const conf = parseConfig(stdin, req.command);
  switch (req.command) {
    case 'GC': { const { cmdGc } = await import('./attach.js'); await cmdGc(conf); return undefined; }
    case 'STATUS': { const { statusOf } = await import('./ipam.js'); statusOf(conf); return undefined; }
    case 'ADD': { const { cmdAdd } = await import('./attach.js'); return cmdAdd(req, conf); }
    case 'DEL': { const { cmdDel } = await import('./attach.js'); await cmdDel(req, conf); return undefined; }
    case 'CHECK': { const { cmdCheck } = await import('./attach.js'); await cmdCheck(req, conf); return undefined; }
  }
}

/** The error's cniVersion: the configuration's when it has one, else the newest we speak. */
function errorVersion(): string {
  try {
    const v = (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion;
    return typeof v === 'string' && v !== '' ? v : '1.1.0';
  } catch { return '1.1.0'; }
}

/** Anything that is not a CniError is a bug or an unexpected failure: code 999, as the reference plugins' generic errors. */
const UNEXPECTED = 999;

run().then((out) => {
  if (out !== undefined) process.stdout.write(`${JSON.stringify(out)}\n`);
  process.exitCode = 0;
}, (e: unknown) => {
  const err = e instanceof CniError ? e : new CniError(UNEXPECTED, e instanceof Error ? e.message : String(e), e instanceof Error ? (e.stack ?? '') : '');
  process.stdout.write(`${JSON.stringify({ cniVersion: errorVersion(), code: err.code, msg: err.message, details: err.details })}\n`);
  process.stderr.write(`k8ts-cni ${process.env['CNI_COMMAND'] ?? ''}: ${err.message}${err.details ? ` (${err.details})` : ''}\n`);
  process.exitCode = 1;
});
