import { endpoint, service, slice } from './fixtures.js';
import { buildServiceModel, type ServicePortModel } from './model.js';
import { staleUdpFlows } from './conntrack.js';

const udpSvc = (eps: string[], spec = {}): ServicePortModel => buildServiceModel(
  [service('dns', '10.96.0.10', { ports: [{ name: 'http', port: 53, protocol: 'UDP', nodePort: 30053 }], ...spec })],
  [{ ...slice('dns', eps.map((ip) => endpoint(ip))), ports: [{ name: 'http', port: 5353, protocol: 'UDP' }] }],
)[0]!;
const one = (prev: ServicePortModel | undefined, cur: ServicePortModel | undefined) =>
  staleUdpFlows(new Map([[(cur ?? prev)!.id, cur]]), new Map([[(cur ?? prev)!.id, prev]]), 'n1', ['192.168.1.10']);

test('staleUdpFlows names the flows DNATed to a UDP endpoint that went away', () => {
  expect(one(udpSvc(['10.128.0.1', '10.128.0.2']), udpSvc(['10.128.0.2']))).toEqual([
    { proto: 17, origDst: '10.96.0.10', origDstPort: 53, replySrc: '10.128.0.1' },
  ]);
});

test('staleUdpFlows covers NodePorts on this node', () => {
  const prev = udpSvc(['10.128.0.1'], { type: 'NodePort' });
  expect(one(prev, udpSvc([], { type: 'NodePort' }))).toEqual([
    { proto: 17, origDst: '10.96.0.10', origDstPort: 53, replySrc: '10.128.0.1' },
    { proto: 17, origDst: '192.168.1.10', origDstPort: 30053, replySrc: '10.128.0.1' },
  ]);
});

test('staleUdpFlows clears rejected traffic when a service gets its first endpoint', () => {
  expect(one(udpSvc([]), udpSvc(['10.128.0.1']))).toEqual([{ proto: 17, origDst: '10.96.0.10', origDstPort: 53 }]);
});

test('staleUdpFlows deletes flows of every endpoint of a deleted service, and nothing for TCP or new services', () => {
  expect(one(udpSvc(['10.128.0.1']), undefined)).toEqual([{ proto: 17, origDst: '10.96.0.10', origDstPort: 53, replySrc: '10.128.0.1' }]);
  expect(one(undefined, udpSvc(['10.128.0.1']))).toEqual([]);
  const tcp = buildServiceModel([service('web', '10.96.0.11')], [slice('web', [endpoint('10.128.0.1')])])[0]!;
  expect(one(tcp, buildServiceModel([service('web', '10.96.0.11')], [slice('web', [])])[0]!)).toEqual([]);
});
