// A 3-member etcd loses a member to kill -9 in the middle of a stream of writes: the store, given
// all three endpoints, keeps writing through the others, and no acknowledged write is lost.
import { Etcd3 } from 'etcd3';
import { EtcdStore } from './etcd.js';
import { EtcdCluster, stopAllEtcdClusters } from './testing/etcd-cluster.js';

afterAll(async () => {
  await stopAllEtcdClusters();
});

/** The index of the member that currently leads. */
async function leaderIndex(cluster: EtcdCluster): Promise<number> {
  const ids: string[] = [];
  let leader = '';
  for (const ep of cluster.endpoints) {
    const client = new Etcd3({ hosts: `http://${ep}` });
    try {
      const status = await client.maintenance.status({});
      ids.push(status.header.member_id);
      leader = status.leader;
    } finally {
      client.close();
    }
  }
  const i = ids.indexOf(leader);
  if (i < 0) throw new Error(`no leader among ${ids.join(', ')} (reported ${leader})`);
  return i;
}

describe('EtcdStore on a 3-member cluster', () => {
  it('keeps every acknowledged write when the leader is killed mid-stream', async () => {
    const cluster = await EtcdCluster.start({ members: 3 });
    const store = new EtcdStore({ endpoints: cluster.endpoints, callTimeoutMs: 3000 });
    const acked = new Map<string, string>();
    let failures = 0;
    let ackedAfterKill = 0;
    let killed = false;
    try {
      const victim = await leaderIndex(cluster);
      const writeOne = async (i: number): Promise<void> => {
        const key = `/failover/${String(i).padStart(6, '0')}`;
        const value = `value-${i}`;
        try {
          await store.create(key, value);
          acked.set(key, value);
          if (killed) ackedAfterKill++;
        } catch {
          failures++; // not acknowledged: may or may not be stored
        }
      };
      let i = 0;
      while (acked.size < 300) await writeOne(i++);
      await cluster.kill(victim);
      killed = true;
      const until = Date.now() + 15_000;
      while (ackedAfterKill < 300 && Date.now() < until) await writeOne(i++);
      expect(ackedAfterKill).toBe(300);

      // Read back through one survivor only.
      const survivor = cluster.endpoints[(victim + 1) % 3]!;
      const reader = new EtcdStore({ endpoints: [survivor] });
      try {
        const all = await reader.list('/failover/');
        const stored = new Map(all.items.map(kv => [kv.key, kv.value]));
        const lost = [...acked].filter(([k, v]) => stored.get(k) !== v).map(([k]) => k);
        expect(lost).toEqual([]);
        expect(all.items.length).toBeLessThanOrEqual(acked.size + failures);
      } finally {
        await reader.close();
      }

      // The killed member comes back and catches up.
      await cluster.restart(victim);
      const back = new EtcdStore({ endpoints: [cluster.endpoints[victim]!] });
      try {
        const deadline = Date.now() + 10_000;
        let count = 0;
        while (Date.now() < deadline && (count = await back.count('/failover/')) < acked.size) await new Promise(r => setTimeout(r, 100));
        expect(count).toBeGreaterThanOrEqual(acked.size);
      } finally {
        await back.close();
      }
    } finally {
      await store.close();
      await cluster.stop();
    }
  }, 60_000);

  it('a watch through all endpoints continues across the kill without gaps or duplicates', async () => {
    const cluster = await EtcdCluster.start({ members: 3 });
    const store = new EtcdStore({ endpoints: cluster.endpoints, callTimeoutMs: 3000 });
    const seen: number[] = [];
    const errors: string[] = [];
    const watch = store.watch('/w/', { afterRevision: await store.currentRevision(), onEvent: e => { if (e.type !== 'progress') seen.push(e.kv.modRevision); }, onError: e => errors.push(e.code) });
    const written: number[] = [];
    try {
      const write = async (i: number): Promise<void> => {
        try { written.push((await store.create(`/w/${i}`, 'v')).modRevision); } catch { /* unacknowledged */ }
      };
      let i = 0;
      for (; i < 100; i++) await write(i);
      // The watch stream sits on one member: kill each in turn (keeping a quorum), so one kill hits it.
      for (const m of [0, 1, 2]) {
        await cluster.kill(m);
        for (const end = i + 100; i < end; i++) await write(i);
        await cluster.restart(m);
      }
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline && seen.length < written.length) await new Promise(r => setTimeout(r, 50));
      expect(errors).toEqual([]);
      expect(new Set(seen).size).toBe(seen.length);
      expect([...seen].sort((a, b) => a - b)).toEqual(seen);
      for (const rev of written) expect(seen).toContain(rev);
    } finally {
      watch.close();
      await store.close();
      await cluster.stop();
    }
  }, 60_000);
});
