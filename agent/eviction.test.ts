import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configToArgv } from '../cli/config-file.js';
import { parseAgentArgs } from './cli.js';
import { defaultEvictionHard, hardEvictionReservation, parseEvictionHard, thresholdsMet, trackPressure, type Observations, type PressureState } from './eviction.js';
import { parseLoadavgTasks, PressureMonitor, readSignals } from './eviction-signals.js';
import { CgroupFs } from './stats-reader.js';
import { buildNodeStatus, type NodeFacts } from './node.js';

const Mi = 1024 ** 2;

describe('parseEvictionHard', () => {
  it('reads upstream\'s defaults: quantities and percentages of the capacity', () => {
    expect(parseEvictionHard(defaultEvictionHard)).toEqual([
      { signal: 'memory.available', quantity: 100 * Mi },
      { signal: 'nodefs.available', percentage: 0.1 },
      { signal: 'imagefs.available', percentage: 0.15 },
      { signal: 'nodefs.inodesFree', percentage: 0.05 },
    ]);
    expect(parseEvictionHard(' pid.available < 1k , imagefs.inodesFree<1%')).toEqual([{ signal: 'pid.available', quantity: 1000 }, { signal: 'imagefs.inodesFree', percentage: 0.01 }]);
  });

  it('drops zero thresholds (a disabled signal) and an empty flag means none', () => {
    expect(parseEvictionHard('memory.available<0,nodefs.available<0%')).toEqual([]);
    expect(parseEvictionHard('')).toEqual([]);
  });

  it('rejects unknown signals, other operators, duplicates and bad values, naming them', () => {
    expect(() => parseEvictionHard('memory.free<1Gi')).toThrow('unsupported eviction signal "memory.free"');
    expect(() => parseEvictionHard('memory.available>1Gi')).toThrow('invalid operator ">"');
    expect(() => parseEvictionHard('memory.available<1Gi,memory.available<2Gi')).toThrow('duplicate eviction threshold for signal "memory.available"');
    expect(() => parseEvictionHard('nodefs.available<101%')).toThrow('must be <= 100%');
    expect(() => parseEvictionHard('nodefs.available<-1%')).toThrow('must be >= 0%');
    expect(() => parseEvictionHard('memory.available<lots')).toThrow('invalid quantity "lots"');
    expect(() => parseEvictionHard('memory.available')).toThrow('expected signal<value');
  });
});

describe('thresholdsMet', () => {
  const obs: Observations = {
    'memory.available': { available: 99 * Mi, capacity: 4096 * Mi },
    'nodefs.available': { available: 100, capacity: 1000 },
    'pid.available': { available: 30_000, capacity: 32_768 },
  };

  it('is met when what is available is below the threshold, a percentage taken of the capacity', () => {
    const t = parseEvictionHard('memory.available<100Mi,nodefs.available<10%,pid.available<10%');
    // 100 of 1000 bytes is not below 10%; 99Mi is below 100Mi.
    expect(thresholdsMet(t, obs).map(x => x.signal)).toEqual(['memory.available']);
    expect(thresholdsMet(parseEvictionHard('nodefs.available<11%,pid.available<100%'), obs).map(x => x.signal)).toEqual(['nodefs.available', 'pid.available']);
  });

  it('ignores a signal that was not observed', () => {
    expect(thresholdsMet(parseEvictionHard('imagefs.available<100%'), obs)).toEqual([]);
  });
});

describe('trackPressure', () => {
  const period = 5 * 60_000;
  const disk = parseEvictionHard('nodefs.available<100%');
  const mem = parseEvictionHard('memory.available<1Ti');

  it('turns a condition True at once and keeps it for the transition period after the last crossing', () => {
    let s: PressureState = {};
    const step = (met: typeof disk, t: number) => { const r = trackPressure(s, met, t, period); s = r.state; return [...r.active].sort(); };
    expect(step([], 0)).toEqual([]);
    expect(step(disk, 1000)).toEqual(['DiskPressure']);
    expect(step([...disk, ...mem], 2000)).toEqual(['DiskPressure', 'MemoryPressure']);
    expect(step([], 2000 + period - 1)).toEqual(['DiskPressure', 'MemoryPressure']);
    // DiskPressure was last crossed at 2000: a full period later it is gone.
    expect(step(mem, 2000 + period)).toEqual(['MemoryPressure']);
    expect(step([], 2000 + period + period)).toEqual([]);
    expect(s).toEqual({});
  });

  it('with a zero period follows the signals exactly', () => {
    expect([...trackPressure({ DiskPressure: 5 }, [], 6, 0).active]).toEqual([]);
    expect([...trackPressure({}, disk, 6, 0).active]).toEqual(['DiskPressure']);
  });
});

describe('node conditions from pressure', () => {
  const facts: NodeFacts = {
    hostname: 'h1', internalIP: '192.0.2.10', cpuCores: 2, memoryBytes: 4096 * Mi, ephemeralStorageBytes: 1000 * Mi, maxPods: 110,
    kernelVersion: '6.1.0', osImage: 'Debian', containerRuntimeVersion: '1.6.20', machineID: 'm', bootID: 'b', architecture: 'amd64',
  };

  it('uses upstream\'s reasons and messages, and the thresholds are held back from allocatable', () => {
    const f = { ...facts, evictionReserve: hardEvictionReservation(parseEvictionHard(defaultEvictionHard), facts.memoryBytes, facts.ephemeralStorageBytes) };
    const s = buildNodeStatus(f, 0, undefined, true, new Set(['DiskPressure', 'PIDPressure']));
    const by = (t: string) => s.conditions!.find(c => c.type === t)!;
    expect(by('MemoryPressure')).toMatchObject({ status: 'False', reason: 'KubeletHasSufficientMemory', message: 'kubelet has sufficient memory available' });
    expect(by('DiskPressure')).toMatchObject({ status: 'True', reason: 'KubeletHasDiskPressure', message: 'kubelet has disk pressure' });
    expect(by('PIDPressure')).toMatchObject({ status: 'True', reason: 'KubeletHasInsufficientPID', message: 'kubelet has insufficient PID available' });
    expect(s.allocatable).toMatchObject({ memory: `${(4096 - 100) * 1024}Ki`, 'ephemeral-storage': `${Math.floor(1000 * Mi * 0.9 / 1024)}Ki` });
    const later = buildNodeStatus(f, 60_000, s, true, new Set(['MemoryPressure']));
    expect(later.conditions!.find(c => c.type === 'MemoryPressure')).toMatchObject({ status: 'True', reason: 'KubeletHasInsufficientMemory', message: 'kubelet has insufficient memory available', lastTransitionTime: '1970-01-01T00:01:00Z' });
    expect(later.conditions!.find(c => c.type === 'DiskPressure')).toMatchObject({ status: 'False', reason: 'KubeletHasNoDiskPressure', message: 'kubelet has no disk pressure' });
  });
});

describe('the agent flags', () => {
  it('take --eviction-hard and the transition period from the command line or the config file', () => {
    const base = ['--server', 'https://127.0.0.1:6443', '--token', 't'];
    const o = parseAgentArgs([...base, '--eviction-hard', 'memory.available<1Gi,nodefs.available<20%', '--eviction-pressure-transition-period', '1m30s']);
    expect(o.evictionHard).toEqual([{ signal: 'memory.available', quantity: 1024 ** 3 }, { signal: 'nodefs.available', percentage: 0.2 }]);
    expect(o.evictionPressureTransitionMs).toBe(90_000);
    const file = configToArgv({ 'eviction-hard': ['pid.available<10%', 'nodefs.inodesFree<1%'], 'eviction-pressure-transition-period': '30s' });
    expect(parseAgentArgs([...base, ...file])).toMatchObject({ evictionHard: [{ signal: 'pid.available', percentage: 0.1 }, { signal: 'nodefs.inodesFree', percentage: 0.01 }], evictionPressureTransitionMs: 30_000 });
    expect(parseAgentArgs(base).evictionHard).toBeUndefined();
    expect(() => parseAgentArgs([...base, '--eviction-hard', 'memory.available>1Gi'])).toThrow('invalid operator');
    expect(() => parseAgentArgs([...base, '--eviction-pressure-transition-period', 'soon'])).toThrow('invalid --eviction-pressure-transition-period "soon"');
  });
});

describe('readSignals', () => {
  it('parses the task count of /proc/loadavg', () => {
    expect(parseLoadavgTasks('0.52 0.58 0.59 3/467 12345\n')).toBe(467);
    expect(parseLoadavgTasks('garbage')).toBeUndefined();
  });

  it('reads pid.available from a /proc and the filesystems with statfs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'k8ts-eviction-'));
    try {
      mkdirSync(join(dir, 'sys/kernel'), { recursive: true });
      writeFileSync(join(dir, 'sys/kernel/pid_max'), '4194304\n');
      writeFileSync(join(dir, 'sys/kernel/threads-max'), '60000\n');
      writeFileSync(join(dir, 'loadavg'), '0.00 0.01 0.05 1/500 42\n');
      const obs = readSignals({ memoryCapacityBytes: 1, nodeFsPath: dir, proc: dir }, new CgroupFs(join(dir, 'no-cgroup')), 0);
      expect(obs['pid.available']).toEqual({ available: 59_500, capacity: 60_000 });
      expect(obs['nodefs.available']!.capacity).toBeGreaterThan(obs['nodefs.available']!.available);
      expect(obs['imagefs.available']).toEqual(obs['nodefs.available']);
      expect(obs['memory.available']).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('PressureMonitor keeps a condition for the transition period on its clock', () => {
    let now = 0;
    let available = 10;
    const m = new PressureMonitor({ memoryCapacityBytes: 100, nodeFsPath: '/' }, parseEvictionHard('memory.available<50'), 1000, () => now,
      () => ({ 'memory.available': { available, capacity: 100 } }));
    expect([...m.observe()]).toEqual(['MemoryPressure']);
    available = 90;
    now = 999;
    expect([...m.observe()]).toEqual(['MemoryPressure']);
    now = 1000;
    expect([...m.observe()]).toEqual([]);
  });
});
