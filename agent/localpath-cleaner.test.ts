import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PersistentVolume } from 'kubernetes-types/core/v1.js';
import { FakeClusterClient } from '../api/client/fake.js';
import { resources } from '../api/client/types.js';
import { LocalPathCleaner, localPathFolder, planLocalPathCleanup } from './localpath-cleaner.js';

const pv = (name: string, path: string, over: { node?: string; policy?: string; provisioner?: string } = {}): PersistentVolume => ({
  metadata: { name, annotations: { 'pv.kubernetes.io/provisioned-by': over.provisioner ?? 'rancher.io/local-path', 'local.path.provisioner/selected-node': over.node ?? 'n1' } },
  spec: { persistentVolumeReclaimPolicy: over.policy ?? 'Delete', hostPath: { path, type: 'DirectoryOrCreate' }, capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'] },
});

describe('localPathFolder', () => {
  it('accepts only folders the provisioner named, of this node, by a local-path provisioner', () => {
    expect(localPathFolder(pv('pvc-1', '/var/lib/k8ts/storage/pvc-1_default_data'), 'n1')).toBe('/var/lib/k8ts/storage/pvc-1_default_data');
    expect(localPathFolder(pv('pvc-1', '/var/lib/k8ts/storage/pvc-1_default_data', { node: 'n2' }), 'n1')).toBeUndefined();
    expect(localPathFolder(pv('pvc-1', '/var/lib/k8ts/storage/pvc-1_default_data', { provisioner: 'example.com/nfs' }), 'n1')).toBeUndefined();
    for (const bad of ['/var/lib/k8ts/storage', '/etc', '/', 'relative/pvc-1_x', '/a/../pvc-1_x', '/a//pvc-1_x', '/pvc-1_x', '/a/pvc-2_x', '/a/pvc-1_x/']) {
      expect(localPathFolder(pv('pvc-1', bad), 'n1')).toBeUndefined();
    }
  });
});

describe('planLocalPathCleanup', () => {
  it('remembers this node\'s volumes and removes the folder of one that is gone only with policy Delete', () => {
    const a = pv('pvc-a', '/s/pvc-a_ns_a');
    const r = pv('pvc-r', '/s/pvc-r_ns_r', { policy: 'Retain' });
    const first = planLocalPathCleanup({}, [a, r, pv('pvc-x', '/s/pvc-x_ns_x', { node: 'n2' })], 'n1');
    expect(first).toEqual({ known: { 'pvc-a': { path: '/s/pvc-a_ns_a', reclaimPolicy: 'Delete' }, 'pvc-r': { path: '/s/pvc-r_ns_r', reclaimPolicy: 'Retain' } }, remove: [] });
    const gone = planLocalPathCleanup(first.known, [], 'n1');
    expect(gone).toEqual({ known: {}, remove: ['/s/pvc-a_ns_a'] });
  });

  it('follows a reclaim policy changed to Retain before the PV goes', () => {
    const known = planLocalPathCleanup({}, [pv('pvc-a', '/s/pvc-a_ns_a')], 'n1').known;
    const retained = planLocalPathCleanup(known, [pv('pvc-a', '/s/pvc-a_ns_a', { policy: 'Retain' })], 'n1').known;
    expect(planLocalPathCleanup(retained, [], 'n1').remove).toEqual([]);
  });
});

describe('LocalPathCleaner', () => {
  let dir = '';
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'k8ts-localpath-')); });
  afterEach(() => { rmSync(dir, { recursive: true, force: true }); });
  const log = { info: () => undefined, warn: () => undefined };
  const until = async (cond: () => boolean) => { for (let i = 0; i < 200 && !cond(); i++) await new Promise(r => setTimeout(r, 5)); return cond(); };
  const folder = (name: string) => { const p = join(dir, 'storage', `${name}_default_data`); mkdirSync(p, { recursive: true }); writeFileSync(join(p, 'file'), 'data'); return p; };

  it('removes a deleted Delete volume\'s folder from disk, keeps a Retain one and other nodes\' folders', async () => {
    const c = new FakeClusterClient();
    const del = folder('pvc-del'), ret = folder('pvc-ret'), other = folder('pvc-other');
    await c.create(resources.persistentvolumes, undefined, pv('pvc-del', del));
    await c.create(resources.persistentvolumes, undefined, pv('pvc-ret', ret, { policy: 'Retain' }));
    await c.create(resources.persistentvolumes, undefined, pv('pvc-other', other, { node: 'n2' }));
    const stateFile = join(dir, 'agent', 'local-path-volumes.json');
    const cleaner = new LocalPathCleaner({ client: c, nodeName: 'n1', stateFile, log });
    await cleaner.start();
    expect(existsSync(stateFile)).toBe(true);
    for (const name of ['pvc-del', 'pvc-ret', 'pvc-other']) await c.delete(resources.persistentvolumes, undefined, name);
    expect(await until(() => !existsSync(del))).toBe(true);
    expect(existsSync(ret)).toBe(true);
    expect(existsSync(other)).toBe(true);
    await cleaner.stop();
  });

  it('cleans up after a PV deleted while the agent was down', async () => {
    const c = new FakeClusterClient();
    const p = folder('pvc-a');
    await c.create(resources.persistentvolumes, undefined, pv('pvc-a', p));
    const stateFile = join(dir, 'agent', 'local-path-volumes.json');
    const first = new LocalPathCleaner({ client: c, nodeName: 'n1', stateFile, log });
    await first.start();
    await first.stop();
    await c.delete(resources.persistentvolumes, undefined, 'pvc-a');
    expect(existsSync(p)).toBe(true);
    const second = new LocalPathCleaner({ client: c, nodeName: 'n1', stateFile, log });
    await second.start();
    expect(existsSync(p)).toBe(false);
    await second.stop();
  });

  it('retries a folder it could not remove on the next change', async () => {
    const c = new FakeClusterClient();
    const p = folder('pvc-a');
    await c.create(resources.persistentvolumes, undefined, pv('pvc-a', p));
    let fail = true;
    const removed: string[] = [];
    const cleaner = new LocalPathCleaner({ client: c, nodeName: 'n1', stateFile: join(dir, 'state.json'), log, removeFolder: async path => { if (fail) throw new Error('EBUSY'); removed.push(path); } });
    await cleaner.start();
    await c.delete(resources.persistentvolumes, undefined, 'pvc-a');
    await new Promise(r => setTimeout(r, 50));
    expect(removed).toEqual([]);
    fail = false;
    await c.create(resources.persistentvolumes, undefined, pv('pvc-b', join(dir, 'storage', 'pvc-b_default_data')));
    expect(await until(() => removed.length === 1)).toBe(true);
    expect(removed).toEqual([p]);
    await cleaner.stop();
  });
});
