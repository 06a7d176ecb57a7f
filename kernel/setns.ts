// The setns(2) primitive behind kernel/netns.ts, in its own module so that short-lived programs
// that only need to enter a namespace (the CNI plugin, run once per pod start) do not pay for
// loading execa (~100 ms of start-up on a loaded node). netns.ts re-exports everything here.
import { closeSync, openSync } from 'node:fs';
import { DataType, load, open } from 'ffi-rs';

const CLONE_NEWNET = 0x40000000;
let libcOpened = false;

export class NetnsError extends Error {
  constructor(readonly code: 'SetnsFailed' | 'CommandFailed' | 'BadName', message: string) {
    super(message);
    this.name = 'NetnsError';
  }
}

function libcSetns(fd: number): void {
  if (!libcOpened) {
    open({ library: 'libc', path: '' });
    libcOpened = true;
  }
  const r = load({
    library: 'libc', funcName: 'setns', retType: DataType.I32,
    paramsType: [DataType.I32, DataType.I32], paramsValue: [fd, CLONE_NEWNET], errno: true,
  }) as unknown as { value: number; errnoCode: number; errnoMessage: string };
  if (r.value !== 0) throw new NetnsError('SetnsFailed', `setns failed: ${r.errnoMessage} (errno ${r.errnoCode})`);
}

/**
 * Calls `fn` with the calling thread inside the namespace at `path` (`/run/netns/NAME`,
 * `/proc/PID/ns/net`, a CNI runtime's `CNI_NETNS`) and switches back before returning.
 * `fn` must be synchronous: whatever it creates (a socket) stays bound to that namespace.
 */
export function withNetnsPathSync<T>(path: string, fn: () => T): T {
  const home = openSync('/proc/thread-self/ns/net', 'r');
  let target: number | undefined;
  try {
    target = openSync(path, 'r');
    libcSetns(target);
    try {
      return fn();
    } finally {
      libcSetns(home);
    }
  } finally {
    if (target !== undefined) closeSync(target);
    closeSync(home);
  }
}
