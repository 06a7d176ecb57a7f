// The Store contract against a real single-member etcd, plus what only etcd has to offer.
import { EtcdStore } from './etcd.js';
import { openStore } from './open.js';
import { EtcdCluster, stopAllEtcdClusters } from './testing/etcd-cluster.js';
import { describeStoreContract } from './testing/contract.js';

let cluster: EtcdCluster | undefined;
async function etcd(): Promise<EtcdCluster> {
  cluster ??= await EtcdCluster.start({ members: 1 });
  return cluster;
}
afterAll(async () => {
  await stopAllEtcdClusters();
});

describeStoreContract('EtcdStore', {
  open: async () => new EtcdStore({ endpoints: (await etcd()).endpoints }),
});

describe('EtcdStore with a live etcd', () => {
  it('is what openStore returns for an etcd:// endpoint', async () => {
    const c = await etcd();
    const store = await openStore({ kind: 'etcd', endpoints: c.endpoints });
    try {
      expect(store).toBeInstanceOf(EtcdStore);
      const kv = await store.create(`/open/${Date.now()}`, 'v');
      expect(kv.modRevision).toBe(await store.currentRevision());
    } finally {
      await store.close();
    }
  });

  it('openStore fails with the endpoint named when no etcd listens there', async () => {
    const { freePort } = await import('./testing/etcd-cluster.js');
    const port = await freePort();
    await expect(openStore({ kind: 'etcd', endpoints: [`127.0.0.1:${port}`] })).rejects.toThrow(`127.0.0.1:${port}`);
  }, 30_000);
});
