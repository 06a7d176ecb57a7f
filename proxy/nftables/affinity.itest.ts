// ClientIP session affinity with real traffic: a client sticks to one endpoint while its entry in
// the affinity map lives, and the entry expires after the Service's timeout.
import type { Service } from 'kubernetes-types/core/v1.js';
import { execInNetns } from '../../kernel/netns.js';
import { NfTablesSocket } from '../../kernel/nftables/socket.js';
import { createLab, type Lab } from '../../kernel/testlab.js';
import { endpoint, slice } from '../fixtures.js';
import { buildServiceModel } from '../model.js';
import { NftablesApplier } from './apply.js';
import { compileServices, TABLE } from './compile.js';

let lab: Lab;
let sock: NfTablesSocket;

beforeAll(async () => {
  lab = await createLab(3);
  await lab.startServers(8080);
  sock = NfTablesSocket.open(lab.node);
}, 60_000);
afterAll(async () => {
  sock?.close();
  await lab?.destroy();
});

const sticky = (timeoutSeconds: number): Service => ({
  metadata: { namespace: 'default', name: 'sticky' },
  spec: {
    type: 'NodePort', clusterIP: '10.96.0.20', clusterIPs: ['10.96.0.20'], ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 }],
    sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds } },
  },
});

test('a client sticks to one endpoint of a ClientIP-affinity service until the timeout, across a periodic resync', async () => {
  const applier = new NftablesApplier(sock);
  const eps = [1, 2, 3].map((i) => endpoint(lab.backendIP(i)));
  await applier.sync(compileServices({ services: buildServiceModel([sticky(2)], [slice('sticky', eps)]), nodeName: 'n1', nodeIPs: [lab.nodeClientIP] }));
  const answers = await lab.connectMany('10.96.0.20', 80, 30);
  expect(new Set(answers).size).toBe(1);
  expect(lab.backends).toContain(answers[0]);
  const listed = await execInNetns(lab.node, 'nft', ['list', 'table', 'ip', TABLE]);
  expect(listed).toContain(`${lab.clientIP} . 10.96.0.20 . tcp . 80`);
  // Another client (a pod in backend 2's namespace) has its own entry.
  expect((await lab.connectMany('10.96.0.20', 80, 10, 2000, lab.backends[1])).every((a, _, xs) => a === xs[0])).toBe(true);
  // The NodePort too: the client sticks (its entry is keyed by the node address it used).
  const viaNodePort = await lab.connectMany(lab.nodeClientIP, 30080, 15);
  expect(new Set(viaNodePort).size).toBe(1);
  expect(await execInNetns(lab.node, 'nft', ['list', 'table', 'ip', TABLE])).toContain(`${lab.clientIP} . ${lab.nodeClientIP} . tcp . 30080`);
  // A periodic resync repairs drift (a deleted dispatch element) and keeps the affinity state.
  await execInNetns(lab.node, 'nft', ['delete', 'element', 'ip', TABLE, 'service-ips', '{ 10.96.0.20 . tcp . 80 }']);
  const r = await applier.sync(compileServices({ services: buildServiceModel([sticky(2)], [slice('sticky', eps)]), nodeName: 'n1', nodeIPs: [lab.nodeClientIP] }), { resync: true });
  expect(r.full).toBe(true);
  expect(await execInNetns(lab.node, 'nft', ['list', 'table', 'ip', TABLE])).toContain(`${lab.clientIP} . 10.96.0.20 . tcp . 80`);
  expect(await lab.connectMany('10.96.0.20', 80, 10)).toEqual(Array(10).fill(answers[0]));
  // The entry expires after the timeout; a new choice is made (and remembered again).
  await new Promise((r) => setTimeout(r, 2500));
  expect(await execInNetns(lab.node, 'nft', ['list', 'table', 'ip', TABLE])).not.toContain(`${lab.clientIP} . 10.96.0.20`);
  // Without affinity the same service balances across its endpoints.
  const noAff = { ...sticky(2), spec: { ...sticky(2).spec, sessionAffinity: 'None' } };
  await applier.sync(compileServices({ services: buildServiceModel([noAff], [slice('sticky', eps)]), nodeName: 'n1', nodeIPs: [lab.nodeClientIP] }));
  expect(new Set(await lab.connectMany('10.96.0.20', 80, 30)).size).toBeGreaterThan(1);
}, 60_000);
