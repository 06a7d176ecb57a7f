// SCTP Service ports in the nftables and iptables compilers (upstream supports SCTP in every mode).
// Both dispatch on the layer-4 protocol number and the destination port, which SCTP keeps where
// TCP and UDP do (bytes 2–3 of the transport header), so an SCTP port is a TCP port with protocol
// 132: its own dispatch entry (not confused with a TCP port of the same number), `-p sctp -m sctp`.
import { renderNft } from '../kernel/nftables/render.js';
import { endpoint, service, slice } from './fixtures.js';
import { compileIptables } from './iptables/compile.js';
import { planFull } from './iptables/plan.js';
import { buildServiceModel } from './model.js';
import { compileServices } from './nftables/compile.js';

const ports = [{ name: 'sig', port: 9999, protocol: 'SCTP' as const }, { name: 'web', port: 9999, protocol: 'TCP' as const }];
const model = () => buildServiceModel(
  [service('sig', '10.96.0.40', { ports })],
  [{ ...slice('sig', [endpoint('10.244.0.7'), endpoint('10.244.0.8')]), ports: [{ name: 'sig', port: 7777, protocol: 'SCTP' }, { name: 'web', port: 8080, protocol: 'TCP' }] }],
);
const state = () => ({ services: model(), nodeName: 'n1', nodeIPs: [] as string[] });

test('the model keeps an SCTP port apart from a TCP port of the same number', () => {
  expect(model().map((p) => [p.id, p.protocol, p.endpoints.map((e) => `${e.ip}:${e.port}`)])).toEqual([
    ['default/sig:sig/SCTP', 'SCTP', ['10.244.0.7:7777', '10.244.0.8:7777']],
    ['default/sig:web/TCP', 'TCP', ['10.244.0.7:8080', '10.244.0.8:8080']],
  ]);
});

test('nftables: an SCTP port has its own dispatch entry and endpoint elements (protocol 132)', () => {
  const rs = compileServices(state());
  const text = renderNft(rs);
  expect(text).toContain('10.96.0.40 . sctp . 9999 : goto lb-2');
  expect(text).toContain('10.96.0.40 . tcp . 9999 : goto lb-2');
  expect(text).toContain('10.96.0.40 . sctp . 9999 . 0 : 10.244.0.7 . 7777');
  expect(text).toContain('10.96.0.40 . tcp . 9999 . 1 : 10.244.0.8 . 8080');
  const sctp = rs.fragments.find((f) => f.id === 'default/sig:sig/SCTP')!;
  expect(sctp.elements['service-ips']![0]!.key).toEqual(['10.96.0.40', 132, 9999]);
});

test('iptables: an SCTP port matches with -p sctp -m sctp, DNATs to the SCTP target port', () => {
  const text = planFull(compileIptables(state()), new Map());
  expect(text).toMatch(/-A KUBE-SERVICES .*-m sctp -p sctp -d 10\.96\.0\.40\/32 --dport 9999 -j KUBE-SVC-/);
  expect(text).toMatch(/-A KUBE-SEP-\w+ .*-p sctp -j DNAT --to-destination 10\.244\.0\.7:7777/);
  expect(text).toMatch(/-A KUBE-SEP-\w+ .*-p tcp -j DNAT --to-destination 10\.244\.0\.7:8080/);
});
