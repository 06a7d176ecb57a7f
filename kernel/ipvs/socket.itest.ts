// The IPVS socket against this machine's kernel, in a network namespace of its own. On a kernel
// with IPVS: a virtual server and a real server round-trip through the kernel (added, dumped back,
// deleted), and a refused op names its object and errno. On a kernel without it (this machine's
// own): opening fails with code NoIpvs and a message that says what is missing and what to do.
// The full check with traffic runs in the test VM (test/e2e/ipvs-vm.test.ts).
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createNetns, deleteNetns } from '../netns.js';
import { IpvsError, IpvsSocket } from './socket.js';

const ns = `k8ts-t-ipvs${randomBytes(3).toString('hex')}`;
const hasIpvs = existsSync('/proc/sys/net/ipv4/vs') || existsSync('/sys/module/ip_vs');

beforeAll(async () => { await createNetns(ns); });
afterAll(async () => { await deleteNetns(ns); });

(hasIpvs ? test.skip : test)('opening IPVS on a kernel without it says so clearly', async () => {
  const err = await IpvsSocket.open(ns).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(IpvsError);
  expect((err as IpvsError).code).toBe('NoIpvs');
  expect((err as IpvsError).message).toMatch(/this kernel has no IPVS.*modprobe ip_vs.*--proxy-mode nftables/);
});

(hasIpvs ? test : test.skip)('virtual and real servers round-trip through the kernel, refusals name their object', async () => {
  const sock = await IpvsSocket.open(ns);
  try {
    const service = { address: '10.96.0.10', protocol: 'TCP' as const, port: 80, scheduler: 'rr', flags: 1, timeout: 600 };
    await sock.apply([{ op: 'addService', service }, { op: 'addDest', service, dest: { address: '10.244.1.2', port: 8080, weight: 2 } }]);
    expect(await sock.listServices()).toEqual([service]);
    expect(await sock.listDests(service)).toEqual([expect.objectContaining({ address: '10.244.1.2', port: 8080, weight: 2 })]);
    const err = await sock.apply([{ op: 'addService', service }]).then(() => undefined, (e: unknown) => e);
    expect(String(err)).toContain('add service TCP 10.96.0.10:80: EEXIST');
    await sock.apply([{ op: 'delService', service }]);
    expect(await sock.listServices()).toEqual([]);
  } finally {
    sock.close();
  }
});
