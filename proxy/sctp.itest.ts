// SCTP Service ports loaded into the kernel, in network namespaces of their own: nftables over
// netlink and iptables through both restore backends, each read back with the kernel's own tools.
// Rules only: this machine's kernel is built without SCTP sockets (CONFIG_IP_SCTP unset; its
// netfilter still matches SCTP: NF_CT_PROTO_SCTP, xt_sctp), so no association can be opened here.
// IPVS's SCTP virtual servers are checked in the test VM (test/e2e/ipvs-vm.test.ts).
import { jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { Iptables } from '../kernel/iptables/restore.js';
import { createNetns, deleteNetns, execInNetns } from '../kernel/netns.js';
import { NfTablesSocket } from '../kernel/nftables/socket.js';
import { endpoint, service, slice } from './fixtures.js';
import { IptablesApplier } from './iptables/apply.js';
import { compileIptables } from './iptables/compile.js';
import { buildServiceModel } from './model.js';
import { NftablesApplier } from './nftables/apply.js';
import { compileServices } from './nftables/compile.js';

jest.setTimeout(60_000);

const state = () => ({
  nodeName: 'n1', nodeIPs: [] as string[],
  services: buildServiceModel(
    [service('sig', '10.96.0.40', { ports: [{ name: 'sig', port: 9999, protocol: 'SCTP' }] })],
    [{ ...slice('sig', [endpoint('10.244.0.7')]), ports: [{ name: 'sig', port: 7777, protocol: 'SCTP' }] }],
  ),
});

let ns: string;
beforeEach(async () => { ns = `k8ts-t-sctp${randomBytes(3).toString('hex')}`; await createNetns(ns); });
afterEach(async () => { await deleteNetns(ns); });

test('nftables: the kernel holds the SCTP dispatch entry and endpoint element', async () => {
  const sock = NfTablesSocket.open(ns);
  try {
    await new NftablesApplier(sock).sync(compileServices(state()));
  } finally {
    sock.close();
  }
  const out = await execInNetns(ns, 'nft', ['list', 'table', 'ip', 'k8ts-proxy']);
  expect(out).toMatch(/10\.96\.0\.40 \. sctp \. 9999 : goto lb-1/);
  expect(out).toMatch(/10\.96\.0\.40 \. sctp \. 9999 \. 0x0+ : 10\.244\.0\.7 \. 7777/); // the index prints as a mark
});

test.each(['nft', 'legacy'] as const)('iptables (%s): the kernel holds -p sctp -m sctp rules', async (backend) => {
  await new IptablesApplier(new Iptables({ backend, netns: ns })).sync(compileIptables(state()));
  const out = await execInNetns(ns, `iptables-${backend}-save`, ['-t', 'nat']);
  expect(out).toMatch(/-A KUBE-SERVICES -d 10\.96\.0\.40\/32 -p sctp .*-m sctp --dport 9999 -j KUBE-SVC-/);
  expect(out).toMatch(/-A KUBE-SEP-\w+ -p sctp .*-j DNAT --to-destination 10\.244\.0\.7:7777/);
});
