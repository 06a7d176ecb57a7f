import type { Endpoints } from 'kubernetes-types/core/v1.js';
import type { FieldError } from '../../../api/errors.js';
import type { KubeObject } from '../../../api/object.js';
import type { RegistryContext } from '../types.js';
import { endpoints, formatEndpoints } from './endpoints.js';

const ctx: RegistryContext = { serviceCIDR: '10.43.0.0/16', clusterCIDR: '10.42.0.0/16', nodePortRange: { min: 30000, max: 32767 }, now: () => new Date() };
const msgs = (errs: FieldError[]) => errs.map(e => e.message());

function ep(subsets: Endpoints['subsets']): KubeObject {
  const o = { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'web', namespace: 'default', creationTimestamp: '2024-01-01T00:00:00Z' }, subsets } as unknown as KubeObject;
  endpoints.applyDefaults!(o, ctx);
  return o;
}

describe('endpoints', () => {
  it('defaults port protocol and validates a good object', () => {
    const o = ep([{ addresses: [{ ip: '10.42.0.5' }], ports: [{ port: 80 }] }]);
    expect((o as unknown as Endpoints).subsets![0]!.ports![0]!.protocol).toBe('TCP');
    expect(endpoints.validate(o, ctx)).toEqual([]);
  });

  it('reports bad subsets', () => {
    const o = ep([
      { ports: [{ port: 80 }] },
      { addresses: [{ ip: 'x' }, { ip: '127.0.0.1' }], ports: [{ port: 80 }, { port: 0, name: 'b' }] },
    ]);
    expect(msgs(endpoints.validate(o, ctx))).toEqual([
      'subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`',
      'subsets[1].addresses[0].ip: Invalid value: "x": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
      'subsets[1].addresses[0].ip: Invalid value: "x": must be a valid IP address',
      'subsets[1].addresses[1].ip: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)',
      'subsets[1].ports[0].name: Required value',
      'subsets[1].ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive',
    ]);
  });

  it('formats the ENDPOINTS column as upstream', () => {
    expect(formatEndpoints({ subsets: [] } as Endpoints)).toBe('<none>');
    expect(formatEndpoints({ subsets: [{ addresses: [{ ip: '10.0.0.1' }], ports: [{ port: 80 }] }] } as Endpoints)).toBe('10.0.0.1:80');
    expect(formatEndpoints({ subsets: [{ addresses: [{ ip: 'fd00::1' }], ports: [{ port: 80 }] }] } as Endpoints)).toBe('[fd00::1]:80');
    expect(formatEndpoints({ subsets: [{ addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }] }] } as Endpoints)).toBe('10.0.0.1,10.0.0.2');
    expect(formatEndpoints({ subsets: [{ addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }, { ip: '10.0.0.3' }], ports: [{ port: 80 }, { port: 443 }] }] } as Endpoints))
      .toBe('10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 3 more...');
    expect(formatEndpoints({ subsets: [{ notReadyAddresses: [{ ip: '10.0.0.1' }], ports: [{ port: 80 }] }] } as Endpoints)).toBe('');
    expect(endpoints.tableRow(ep([{ addresses: [{ ip: '10.0.0.1' }], ports: [{ port: 80 }] }]), new Date('2024-01-01T00:00:09Z'))).toEqual(['web', '10.0.0.1:80', '9s']);
  });
});
