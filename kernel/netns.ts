// Network namespaces: create, delete, list, run a command inside one, and open a socket inside one.
//
// Design notes. A netlink socket belongs to the network namespace its creating thread was in when
// `socket(2)` ran, and keeps talking to that namespace forever after. So "open a socket in a
// namespace" is: `setns(2)` the calling thread into it, create the socket, `setns` straight back —
// all synchronously on the JavaScript thread, so no other JavaScript can run in between and
// libuv's worker threads (which never call `setns`) stay in the original namespace throughout.
// `setns` is reached through `ffi-rs` (libc), which calls it on the current thread.
// Rejected: starting a helper process with `ip netns exec NAME node …` and piping batches to it —
// it costs a Node start-up (~50 ms) per namespace and a second copy of every batch, and the one
// thing it buys (isolation of the thread's namespace) we get for free by switching back before
// returning. Named namespaces are made and removed with `ip netns` so that they are visible to
// every other tool (`ip netns exec`, `nft`) exactly as an operator expects.
import { execa } from 'execa';
import { NetnsError, withNetnsPathSync } from './setns.js';

export { NetnsError, withNetnsPathSync } from './setns.js';

const NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;
function checkName(name: string): void {
  if (!NAME_RE.test(name)) throw new NetnsError('BadName', `invalid network namespace name "${name}"`);
}

/** Creates the named namespace (like `ip netns add`) with its loopback up. */
export async function createNetns(name: string): Promise<void> {
  checkName(name);
  await run('ip', ['netns', 'add', name]);
  await run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
}

/** Deletes the named namespace; a missing one is not an error (teardown must be idempotent). */
export async function deleteNetns(name: string): Promise<void> {
  checkName(name);
  const r = await execa('ip', ['netns', 'delete', name], { reject: false });
  if (r.exitCode !== 0 && !/No such file/.test(String(r.stderr))) {
    throw new NetnsError('CommandFailed', `ip netns delete ${name}: ${String(r.stderr).trim()}`);
  }
}

/** Runs `cmd args…` inside the namespace and returns its stdout; throws with stderr on failure. */
export async function execInNetns(name: string, cmd: string, args: string[], input?: string): Promise<string> {
  checkName(name);
  return run('ip', ['netns', 'exec', name, cmd, ...args], input);
}

/** Runs a network command (ip, nft, …) in the current namespace. */
export async function run(cmd: string, args: string[], input?: string): Promise<string> {
  const r = await execa(cmd, args, { reject: false, ...(input === undefined ? {} : { input }) });
  if (r.exitCode !== 0) {
    const err = String(r.stderr).trim().split('\n').slice(0, 20).join('\n');
    throw new NetnsError('CommandFailed', `${cmd} ${args.join(' ').slice(0, 200)} failed (${r.signal ? `signal ${r.signal}` : `exit ${String(r.exitCode)}`}): ${err}`);
  }
  return String(r.stdout);
}

/**
 * Calls `fn` with the calling thread inside namespace `name` and switches back before returning.
 * `fn` must be synchronous: whatever it creates (a socket) stays bound to that namespace.
 */
export function withNetnsSync<T>(name: string, fn: () => T): T {
  checkName(name);
  return withNetnsPathSync(`/run/netns/${name}`, fn);
}

/** A long-running process inside a namespace (a test server); `stop` kills it by its own pid. */
export interface NetnsProcess { readonly pid: number | undefined; stop(): Promise<void> }

export function spawnInNetns(name: string, cmd: string, args: string[]): NetnsProcess {
  checkName(name);
  const child = execa('ip', ['netns', 'exec', name, cmd, ...args], { reject: false, stdio: 'ignore' });
  return {
    pid: child.pid,
    async stop() {
      child.kill('SIGKILL');
      await child;
    },
  };
}
