// Conntrack over netlink in a lab namespace: UDP flows DNATed through a ClusterIP are listed, and
// the ones to a given endpoint deleted, leaving the others.
import { Conntrack } from './conntrack.js';
import { execInNetns } from './netns.js';
import { NfTablesSocket } from './nftables/socket.js';
import { createLab, type Lab } from './testlab.js';
import { compileServices } from '../proxy/nftables/compile.js';
import { NftablesApplier } from '../proxy/nftables/apply.js';
import { buildServiceModel } from '../proxy/model.js';

let lab: Lab;
let ct: Conntrack;
let sock: NfTablesSocket;

beforeAll(async () => {
  lab = await createLab(2);
  ct = Conntrack.open(lab.node);
  sock = NfTablesSocket.open(lab.node);
}, 60_000);
afterAll(async () => {
  ct?.close();
  sock?.close();
  await lab?.destroy();
});

const udp = (from: string, addr: string, port: number, srcPort: number): Promise<string> => execInNetns(from, process.execPath, ['-e',
  `const s=require('dgram').createSocket('udp4');s.bind(${srcPort},()=>s.send('x',${port},'${addr}',()=>s.close()))`]);

test('UDP flows to a removed endpoint are deleted over netlink, others stay', async () => {
  const svc = (name: string, ip: string) => ({ metadata: { namespace: 'default', name }, spec: { clusterIP: ip, clusterIPs: [ip], ports: [{ name: 'dns', port: 53, protocol: 'UDP' as const }] } });
  const slice = (name: string, ip: string) => ({
    metadata: { namespace: 'default', name: `${name}-1`, labels: { 'kubernetes.io/service-name': name } }, addressType: 'IPv4',
    ports: [{ name: 'dns', port: 5353, protocol: 'UDP' as const }], endpoints: [{ addresses: [ip], conditions: { ready: true } }],
  });
  await new NftablesApplier(sock).sync(compileServices({
    services: buildServiceModel([svc('a', '10.96.0.53'), svc('b', '10.96.0.54')], [slice('a', lab.backendIP(1)), slice('b', lab.backendIP(2))]), nodeName: 'n1', nodeIPs: [],
  }));
  await udp(lab.client, '10.96.0.53', 53, 40001);
  await udp(lab.client, '10.96.0.54', 53, 40002);
  const flows = await ct.list();
  const toA = flows.filter((f) => f.orig.dst === '10.96.0.53');
  expect(toA).toHaveLength(1);
  expect(toA[0]).toMatchObject({ orig: { src: lab.clientIP, proto: 17, sport: 40001, dport: 53 }, reply: { src: lab.backendIP(1), sport: 5353 } });
  expect(flows.some((f) => f.orig.dst === '10.96.0.54')).toBe(true);

  expect(await ct.deleteFlows([{ proto: 17, origDst: '10.96.0.53', origDstPort: 53, replySrc: lab.backendIP(1) }])).toBe(1);
  const after = await ct.list();
  expect(after.some((f) => f.orig.dst === '10.96.0.53')).toBe(false);
  expect(after.some((f) => f.orig.dst === '10.96.0.54')).toBe(true);
  // The conntrack CLI agrees.
  const cli = await execInNetns(lab.node, 'conntrack', ['-L', '-p', 'udp']).catch((e: unknown) => String(e));
  expect(cli).not.toContain('dst=10.96.0.53');
  expect(cli).toContain('dst=10.96.0.54');
  // Nothing matches any more: nothing to delete.
  expect(await ct.deleteFlows([{ proto: 17, origDst: '10.96.0.53' }])).toBe(0);
}, 60_000);
