// Node pressure, as upstream's eviction manager measures it (pkg/kubelet/eviction): signals
// (memory.available, nodefs/imagefs available bytes and free inodes, pid.available) compared
// with the hard thresholds of `--eviction-hard`, and the node conditions they raise
// (MemoryPressure, DiskPressure, PIDPressure).
//
// Design notes:
// - Pure: `parseEvictionHard` (flag → thresholds), `thresholdsMet` (observations → thresholds
//   crossed), `trackPressure` (crossed thresholds over time → conditions under pressure). The
//   readings come from agent/eviction-signals.ts; node.ts turns the result into conditions.
// - As upstream, a condition turns True as soon as one of its thresholds is crossed, and goes back
//   to False only once it has not been observed for `--eviction-pressure-transition-period`
//   (default 5m), so a node hovering around a threshold does not flap between True and False.
// - Upstream's rule for the flag: a given `--eviction-hard` replaces the defaults as a whole (a
//   signal it leaves out has no threshold); a threshold of zero (`0`, `0%`) disables the signal.
// - Only the conditions are implemented: this kubelet does not evict pods under pressure, and soft
//   thresholds, grace periods and minimum reclaim are not supported.
import { parseQuantity, QuantityError, toUnits } from '../api/quantity.js';

export const evictionSignals = ['memory.available', 'nodefs.available', 'nodefs.inodesFree', 'imagefs.available', 'imagefs.inodesFree', 'pid.available'] as const;
export type EvictionSignal = typeof evictionSignals[number];

export type PressureCondition = 'MemoryPressure' | 'DiskPressure' | 'PIDPressure';

/** Upstream's signalToNodeCondition. */
export const signalCondition: Readonly<Record<EvictionSignal, PressureCondition>> = {
  'memory.available': 'MemoryPressure',
  'nodefs.available': 'DiskPressure', 'nodefs.inodesFree': 'DiskPressure',
  'imagefs.available': 'DiskPressure', 'imagefs.inodesFree': 'DiskPressure',
  'pid.available': 'PIDPressure',
};

/** Upstream's Linux defaults of `--eviction-hard`. */
export const defaultEvictionHard = 'memory.available<100Mi,nodefs.available<10%,imagefs.available<15%,nodefs.inodesFree<5%';

/** Upstream's default `--eviction-pressure-transition-period`. */
export const defaultPressureTransitionMs = 5 * 60_000;

/** `signal < value`: an absolute amount (bytes, inodes, PIDs) or a fraction (0–1] of the capacity. */
export type Threshold = { signal: EvictionSignal; quantity: number } | { signal: EvictionSignal; percentage: number };

export class EvictionFlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EvictionFlagError';
  }
}

/**
 * `memory.available<100Mi,nodefs.available<10%` into thresholds, with upstream's checks: only
 * `<` (hard thresholds), known signals, each once, percentages 0–100%, quantities ≥ 0.
 */
export function parseEvictionHard(text: string): Threshold[] {
  const out: Threshold[] = [];
  for (const part of text.split(',').map(s => s.trim()).filter(Boolean)) {
    const m = /^([a-zA-Z.]+)\s*([<>=!]+)\s*(.+)$/.exec(part);
    if (!m) throw new EvictionFlagError(`invalid eviction threshold "${part}": expected signal<value, e.g. memory.available<100Mi`);
    const [, signal, op, value] = m as unknown as [string, string, string, string];
    if (!(evictionSignals as readonly string[]).includes(signal)) throw new EvictionFlagError(`unsupported eviction signal "${signal}": want one of ${evictionSignals.join(', ')}`);
    if (op !== '<') throw new EvictionFlagError(`invalid operator "${op}" in eviction threshold "${part}": hard thresholds take only <`);
    if (out.some(t => t.signal === signal)) throw new EvictionFlagError(`found duplicate eviction threshold for signal "${signal}"`);
    const s = signal as EvictionSignal;
    if (value.endsWith('%')) {
      const pct = Number(value.slice(0, -1));
      if (value.length < 2 || !Number.isFinite(pct)) throw new EvictionFlagError(`invalid percentage "${value}" in eviction threshold "${part}"`);
      if (pct < 0) throw new EvictionFlagError(`eviction percentage threshold ${signal} must be >= 0%: ${value}`);
      if (pct > 100) throw new EvictionFlagError(`eviction percentage threshold ${signal} must be <= 100%: ${value}`);
      if (pct > 0) out.push({ signal: s, percentage: pct / 100 });
      continue;
    }
    let bytes: number;
    try {
      bytes = toUnits(parseQuantity(value));
    } catch (err) {
      if (err instanceof QuantityError) throw new EvictionFlagError(`invalid quantity "${value}" in eviction threshold "${part}": ${err.message}`);
      throw err;
    }
    if (bytes < 0) throw new EvictionFlagError(`eviction threshold ${signal} must be positive: ${value}`);
    if (bytes > 0) out.push({ signal: s, quantity: bytes });
  }
  return out;
}

/** What is left of a resource and how much there is in all (for percentages). */
export interface Observation { available: number; capacity: number }
export type Observations = Partial<Record<EvictionSignal, Observation>>;

/** The threshold's amount for this capacity, as upstream's GetThresholdQuantity. */
export function thresholdAmount(t: Threshold, capacity: number): number {
  return 'quantity' in t ? t.quantity : Math.floor(capacity * t.percentage);
}

/** The thresholds crossed (available below the threshold); a signal not observed crosses none. */
export function thresholdsMet(thresholds: readonly Threshold[], obs: Observations): Threshold[] {
  return thresholds.filter(t => {
    const o = obs[t.signal];
    return o !== undefined && o.available < thresholdAmount(t, o.capacity);
  });
}

/** When each condition was last observed under pressure (epoch ms). */
export type PressureState = Partial<Record<PressureCondition, number>>;

/**
 * Upstream's nodeConditionsObservedSince: the conditions crossed now, plus those observed within
 * the last `transitionMs`; the state carries the observation times to the next call.
 */
export function trackPressure(prev: PressureState, met: readonly Threshold[], now: number, transitionMs: number): { state: PressureState; active: Set<PressureCondition> } {
  const state: PressureState = { ...prev };
  for (const t of met) state[signalCondition[t.signal]] = now;
  const active = new Set<PressureCondition>();
  for (const [cond, at] of Object.entries(state) as [PressureCondition, number][]) {
    if (now - at < transitionMs || at === now) active.add(cond);
    else delete state[cond];
  }
  return { state, active };
}

/** The memory and ephemeral storage the hard thresholds hold back from allocatable (upstream's hardEvictionReservation). */
export function hardEvictionReservation(thresholds: readonly Threshold[], memoryCapacity: number, nodefsCapacity: number): { memoryBytes: number; ephemeralStorageBytes: number } {
  const of = (signal: EvictionSignal, capacity: number) => {
    const t = thresholds.find(x => x.signal === signal);
    return t ? thresholdAmount(t, capacity) : 0;
  };
  return { memoryBytes: of('memory.available', memoryCapacity), ephemeralStorageBytes: of('nodefs.available', nodefsCapacity) };
}
