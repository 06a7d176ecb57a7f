// The pure half of the PLEG: what a relist of containerd tells us beyond what we already know.
import type { ContainerRecord } from './pod-plan.js';
import type { TaskInfo } from './runtime.js';

export interface RelistDiff {
  /** Containers we have no record of (adopt them from their labels). */
  unknown: string[];
  /** Records we think are running whose task stopped or is gone. */
  stopped: string[];
  /** Records whose container no longer exists. */
  vanished: string[];
}

export function diffRelist(known: ReadonlyMap<string, ContainerRecord>, containers: readonly string[], tasks: readonly TaskInfo[]): RelistDiff {
  const present = new Set(containers);
  const taskById = new Map(tasks.map(t => [t.id, t]));
  const unknown = containers.filter(id => !known.has(id));
  const stopped: string[] = [];
  const vanished: string[] = [];
  for (const [id, r] of known) {
    if (!present.has(id)) { vanished.push(id); continue; }
    const t = taskById.get(id);
    if (r.state === 'running' && (!t || t.status === 'STOPPED')) stopped.push(id);
  }
  return { unknown, stopped, vanished };
}
