// Routed mode with BGP: a real BIRD 2 per node namespace in a full iBGP mesh, the routed applier
// keeping only the blackhole, and pod blocks learned over BGP carrying pod-to-pod TCP.
import { jest } from '@jest/globals';
import { K8TS_ROUTE_PROTOCOL } from '../common/rtnl-kernel.js';
import { createNetLab, labNodeObject, type LabNode, type NetLab } from '../testlab.js';
import { within } from '../../test/poll.js';
import { RoutedApplier } from './apply.js';
import { BirdDaemon } from './bird.js';
import { compileBirdConfig, DEFAULT_BGP_ASN } from './compile-bird.js';
import { desiredRouted } from './plan.js';

jest.setTimeout(120_000);

const PORT = 7000;
let lab: NetLab;
const birds: BirdDaemon[] = [];

/** Syncs node i's routes and BIRD config against `nodes`. */
async function syncNode(i: number, nodes: readonly LabNode[] = lab.nodes) {
  const n = lab.nodes[i]!;
  const want = desiredRouted({ nodeName: n.name, nodeIP: n.ip, podCidr: n.podCidr, bgp: true }, nodes.map((n) => labNodeObject(n)));
  const plan = await new RoutedApplier(lab.kernel(i), K8TS_ROUTE_PROTOCOL).sync(want);
  await birds[i]!.configure(compileBirdConfig({ routerId: n.ip, asn: DEFAULT_BGP_ASN, podCidr: n.podCidr, clusterCidr: '10.244.0.0/16', peers: want.peers }));
  return plan;
}

const birdRoute = async (ns: string, dst: string): Promise<string> => (await lab.ip(ns, ['route', 'show', dst, 'proto', 'bird'])).trim();

beforeAll(async () => {
  lab = await createNetLab(3, { pods: 'routed', serve: PORT });
  for (const n of lab.nodes) {
    const bird = new BirdDaemon({ netns: n.ns, dir: `/tmp/${n.ns}-bird` });
    birds.push(bird);
    lab.defer(() => bird.stop());
  }
}, 120_000);

afterAll(() => lab?.destroy());

const pod = (i: number) => lab.pod(i);

test('every node learns the other blocks over BGP and pods reach each other', async () => {
  for (let i = 0; i < 3; i++) await syncNode(i);
  const ms = await within(20_000, 'BGP routes on every node', async () => {
    for (const [i, n] of lab.nodes.entries()) {
      for (const [j, m] of lab.nodes.entries()) {
        if (i !== j && (await birdRoute(n.ns, m.podCidr)) !== `${m.podCidr} via ${m.ip} dev eth0 metric 32`) return false;
      }
    }
    return true;
  });
  process.stdout.write(`bird: full mesh converged in ${ms.toFixed(0)} ms\n`);
  expect(await lab.ip(lab.nodes[0]!.ns, ['route', 'show', 'proto', '107'])).toMatch(/blackhole 10\.244\.1\.0\/24/);
  for (const [a, b] of [[0, 1], [1, 2], [2, 0]] as const) {
    expect(await lab.send(pod(a).ns, pod(b).ip, PORT, 1000)).toMatch(new RegExp(`^${pod(b).ns} ${pod(a).ip} 1000 `));
  }
  const sessions = await birds[0]!.birdc(['show', 'protocols']);
  expect(sessions).toMatch(/node_node_2\s+BGP\s+---\s+up\s+\S+\s+Established/);
});

test('the routed applier leaves BIRD\'s routes alone, and an unchanged config is not re-applied', async () => {
  expect(await syncNode(0)).toEqual({ add: [], del: [] });
  expect(await birdRoute(lab.nodes[0]!.ns, '10.244.2.0/24')).not.toBe('');
});

test('a node removed from the config is no longer routed to; re-added, it is again', async () => {
  const n1 = lab.nodes[0]!;
  await syncNode(0, lab.nodes.slice(0, 2));
  await within(5000, 'route withdrawn', async () => (await birdRoute(n1.ns, '10.244.3.0/24')) === '');
  expect(await lab.send(pod(0).ns, pod(2).ip, PORT, 0, 1000)).toMatch(/^ERR:/);
  await syncNode(0);
  await within(20_000, 'route learned again', async () => (await birdRoute(n1.ns, '10.244.3.0/24')) !== '');
  expect(await lab.send(pod(0).ns, pod(2).ip, PORT, 0)).toContain(pod(2).ns);
});

test('stopping BIRD removes the routes it installed', async () => {
  const n3 = lab.nodes[2]!;
  await birds[2]!.stop();
  expect(await lab.ip(n3.ns, ['route', 'show', 'proto', 'bird'])).toBe('');
});
