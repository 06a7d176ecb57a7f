// kube-ipvs0 through Rtnl.addDummy, in a network namespace of its own. On a kernel with dummy links
// (the test VM's): created once, found again, its addresses synced. On this machine's kernel, which
// has none (CONFIG_DUMMY unset): the error says so in words instead of a bare EOPNOTSUPP.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createNetns, deleteNetns } from '../netns.js';
import { openRtnl, RtnlError } from '../rtnl/index.js';
import { ensureDummy, IPVS_DEVICE, listDeviceAddrs, syncDeviceAddrs } from './device.js';

const ns = `k8ts-t-dummy${randomBytes(3).toString('hex')}`;

beforeAll(async () => { await createNetns(ns); });
afterAll(async () => { await deleteNetns(ns); });

test('ensureDummy makes kube-ipvs0 once, or says the kernel has no dummy links', async () => {
  const rtnl = openRtnl(ns);
  try {
    const err = await ensureDummy(rtnl).then(() => undefined, (e: unknown) => e);
    if (err !== undefined) {
      // Only a kernel without the driver may refuse (no module loaded and none to load).
      expect(existsSync('/sys/module/dummy')).toBe(false);
      expect(err).toBeInstanceOf(RtnlError);
      expect(['EOPNOTSUPP', 'ENOTSUP']).toContain((err as RtnlError).errno); // errno 95 has both names
      expect((err as Error).message).toContain(`${IPVS_DEVICE} (this kernel has no dummy links)`);
      return;
    }
    expect((await rtnl.getLink(IPVS_DEVICE))?.kind).toBe('dummy');
    await ensureDummy(rtnl); // idempotent
    await syncDeviceAddrs(rtnl, ['10.96.0.10', '10.96.0.11'], []);
    await syncDeviceAddrs(rtnl, [], ['10.96.0.11']);
    expect(await listDeviceAddrs(rtnl)).toEqual(['10.96.0.10']);
  } finally {
    rtnl.close();
  }
});
