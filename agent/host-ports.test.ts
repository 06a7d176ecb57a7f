import { podPortMappings } from './host-ports.js';
import { capabilityArgs } from './cni.js';

describe('podPortMappings', () => {
  it('maps every container port with a hostPort, lower-casing the protocol and keeping hostIP', () => {
    expect(podPortMappings({ spec: { containers: [
      { name: 'a', ports: [{ containerPort: 80, hostPort: 8080 }, { containerPort: 81 }] },
      { name: 'b', ports: [{ containerPort: 53, hostPort: 5353, protocol: 'UDP', hostIP: '127.0.0.1' }] },
    ] } })).toEqual([
      { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
      { hostPort: 5353, containerPort: 53, protocol: 'udp', hostIP: '127.0.0.1' },
    ]);
  });
  it('gives none for hostNetwork pods', () => {
    expect(podPortMappings({ spec: { hostNetwork: true, containers: [{ name: 'a', ports: [{ containerPort: 80, hostPort: 80 }] }] } })).toEqual([]);
  });
});

describe('capabilityArgs', () => {
  it('passes a plugin only the capabilities it declares', () => {
    const rc = { portMappings: [{ hostPort: 1, containerPort: 2, protocol: 'tcp' as const }], bandwidth: { ingressRate: 1 } };
    expect(capabilityArgs({ type: 'portmap', capabilities: { portMappings: true } }, rc)).toEqual({ portMappings: rc.portMappings });
    expect(capabilityArgs({ type: 'bridge' }, rc)).toBeUndefined();
    expect(capabilityArgs({ type: 'portmap', capabilities: { portMappings: true } }, {})).toBeUndefined();
  });
});
