import { diffRelist } from './relist.js';
import type { ContainerRecord } from './pod-plan.js';

const rec = (id: string, state: 'running' | 'exited'): ContainerRecord => ({ id, podUID: 'u', name: id, attempt: 0, init: false, image: 'i', state });

describe('diffRelist', () => {
  it('finds unknown containers, running records whose task stopped or vanished, and removed containers', () => {
    const known = new Map([['a', rec('a', 'running')], ['b', rec('b', 'running')], ['c', rec('c', 'exited')], ['d', rec('d', 'running')], ['gone', rec('gone', 'exited')]]);
    const diff = diffRelist(known, ['a', 'b', 'c', 'd', 'new'], [
      { id: 'a', pid: 1, status: 'RUNNING' },
      { id: 'b', pid: 2, status: 'STOPPED' },
    ]);
    expect(diff).toEqual({ unknown: ['new'], stopped: ['b', 'd'], vanished: ['gone'] });
  });

  it('reports nothing when containerd agrees with the records', () => {
    const known = new Map([['a', rec('a', 'running')], ['c', rec('c', 'exited')]]);
    expect(diffRelist(known, ['a', 'c'], [{ id: 'a', pid: 1, status: 'RUNNING' }])).toEqual({ unknown: [], stopped: [], vanished: [] });
  });
});
