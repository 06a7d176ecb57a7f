// externalTrafficPolicy=Local with real traffic, in every proxy mode: external clients reach only
// this node's endpoints (and keep their address), while pods and the node itself reach every
// endpoint of the service through its NodePort or external IP, as upstream's KUBE-EXT chain
// short-circuits them — above all on a node with no endpoint of its own.
//
// The lab (kernel/testlab.ts): the client namespace (10.0.0.2) is outside the cluster; backends
// 10.128.i.2 are pods in the cluster CIDR 10.128.0.0/9; the node namespace is node-1 (10.0.0.1).
// Endpoints say which node they run on; their namespaces are routed from node-1 all the same,
// as pods on other nodes are through an overlay.
import { jest } from '@jest/globals';
import { Iptables } from '../kernel/iptables/restore.js';
import { NfTablesSocket } from '../kernel/nftables/socket.js';
import { createLab, type Lab } from '../kernel/testlab.js';
import { endpoint, service, slice } from './fixtures.js';
import { IptablesApplier } from './iptables/apply.js';
import { compileIptables } from './iptables/compile.js';
import { buildServiceModel, type ServicePortModel } from './model.js';
import { NftablesApplier } from './nftables/apply.js';
import { compileServices } from './nftables/compile.js';

jest.setTimeout(60_000);

const NODE = 'node-1';
const CLUSTER_CIDR = '10.128.0.0/9';
const EXTERNAL_IP = '192.0.2.10';

interface Mode { sync(services: readonly ServicePortModel[]): Promise<unknown>; close(): Promise<void> }
const state = (lab: Lab, services: readonly ServicePortModel[]) => ({
  services, nodeName: NODE, nodeIPs: [lab.nodeClientIP], serviceCIDR: '10.96.0.0/12', clusterCIDR: CLUSTER_CIDR,
});
const modes: [string, (lab: Lab) => Mode][] = [
  ['nftables', (lab) => {
    const sock = NfTablesSocket.open(lab.node);
    const a = new NftablesApplier(sock);
    return { sync: (s) => a.sync(compileServices(state(lab, s))), close: async () => { await a.cleanup('k8ts-proxy'); sock.close(); } };
  }],
  ['iptables (nft)', (lab) => {
    const a = new IptablesApplier(new Iptables({ backend: 'nft', netns: lab.node }));
    return { sync: (s) => a.sync(compileIptables(state(lab, s))), close: () => a.cleanup() };
  }],
];

describe.each(modes)('%s mode', (_name, open) => {
  let lab: Lab;
  let mode: Mode;
  beforeAll(async () => {
    lab = await createLab(3);
    await lab.startServers(8080); // 8080 answers the backend's name, 8081 the address it sees
    mode = open(lab);
  }, 60_000);
  afterAll(async () => {
    await mode?.close().catch(() => undefined);
    await lab?.destroy();
  });

  // `web` answers names (endpoints b1, b2), `whoami` the client address (endpoint b1); both Local.
  const local = (port: number, nodePort: number) => ({
    type: 'NodePort' as const, externalTrafficPolicy: 'Local' as const, externalIPs: [EXTERNAL_IP],
    ports: [{ name: 'http', port, protocol: 'TCP' as const, nodePort }],
  });
  const model = (nodeOf: (i: number) => string): ServicePortModel[] => buildServiceModel(
    [service('web', '10.96.0.10', local(80, 30100)), service('whoami', '10.96.0.11', local(81, 30101))],
    [
      slice('web', [1, 2].map((i) => endpoint(lab.backendIP(i), { ready: true }, nodeOf(i)))),
      slice('whoami', [endpoint(lab.backendIP(1), { ready: true }, nodeOf(1))], 8081),
    ],
  );
  const answers = async (addr: string, port: number, count: number, from?: string): Promise<string[]> =>
    [...new Set(await lab.connectMany(addr, port, count, 1000, from))].sort();

  describe('on a node with no endpoint of its own', () => {
    beforeAll(async () => { await mode.sync(model(() => 'node-2')); });

    test('an external client gets no answer through the NodePort or the external IP', async () => {
      for (const [addr, port] of [[lab.nodeClientIP, 30100], [EXTERNAL_IP, 80]] as const) {
        const got = await answers(addr, port, 2);
        expect(got.every((a) => a.startsWith('ERR:'))).toBe(true);
      }
    });

    test('a pod reaches every endpoint through the NodePort and the external IP, keeping its address', async () => {
      const pod = lab.backends[2]!;
      expect(await answers(lab.nodeClientIP, 30100, 30, pod)).toEqual([lab.backends[0], lab.backends[1]].sort());
      expect(await answers(EXTERNAL_IP, 80, 30, pod)).toEqual([lab.backends[0], lab.backends[1]].sort());
      expect(await answers(lab.nodeClientIP, 30101, 2, pod)).toEqual([lab.backendIP(3)]);
    });

    test('the node itself reaches every endpoint, masqueraded to its own address towards the endpoint', async () => {
      expect(await answers(lab.nodeClientIP, 30100, 30, lab.node)).toEqual([lab.backends[0], lab.backends[1]].sort());
      expect(await answers(EXTERNAL_IP, 80, 30, lab.node)).toEqual([lab.backends[0], lab.backends[1]].sort());
      expect(await answers(lab.nodeClientIP, 30101, 2, lab.node)).toEqual(['10.128.1.1']);
    });
  });

  describe('on a node with one of the endpoints', () => {
    beforeAll(async () => { await mode.sync(model((i) => (i === 1 ? NODE : 'node-2'))); });

    test('an external client reaches only the local endpoint and keeps its address', async () => {
      expect(await answers(lab.nodeClientIP, 30100, 20)).toEqual([lab.backends[0]]);
      expect(await answers(EXTERNAL_IP, 80, 20)).toEqual([lab.backends[0]]);
      expect(await answers(lab.nodeClientIP, 30101, 2)).toEqual([lab.clientIP]);
    });

    test('a pod and the node still reach every endpoint', async () => {
      expect(await answers(lab.nodeClientIP, 30100, 30, lab.backends[2])).toEqual([lab.backends[0], lab.backends[1]].sort());
      expect(await answers(EXTERNAL_IP, 80, 30, lab.node)).toEqual([lab.backends[0], lab.backends[1]].sort());
    });
  });

  // The last Local service going takes the external-from-* maps with the chains their verdicts
  // name; the kernel refused that transaction (EBUSY) and every later sync with it.
  test('deleting the Local services syncs, and a new service is served after it', async () => {
    await mode.sync([]);
    await mode.sync(buildServiceModel([service('plain', '10.96.0.12')], [slice('plain', [endpoint(lab.backendIP(1))])]));
    expect(await answers('10.96.0.12', 80, 5)).toEqual([lab.backends[0]]);
  });
});
