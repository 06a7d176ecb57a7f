import { deepCopy, type KubeObject } from '../../../api/object.js';
import type { RegistryContext } from '../types.js';
import { endpointslices } from './endpointslices.js';

const ctx: RegistryContext = { serviceCIDR: '10.43.0.0/16', clusterCIDR: '10.42.0.0/16', nodePortRange: { min: 30000, max: 32767 }, now: () => new Date('2026-01-01T00:00:30Z') };
const messages = (errs: { message(): string }[]) => errs.map(e => e.message());

function slice(fields: Record<string, unknown> = {}): KubeObject {
  const obj: KubeObject = {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { name: 'web-abc', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' }, creationTimestamp: '2026-01-01T00:00:00Z' },
    addressType: 'IPv4',
    endpoints: [{ addresses: ['10.42.0.5'], conditions: { ready: true } }, { addresses: ['10.42.1.7'] }],
    ports: [{ name: 'http', port: 80 }],
    ...fields,
  };
  endpointslices.applyDefaults!(obj, ctx);
  return obj;
}

describe('endpointslices', () => {
  it('defaults port protocol to TCP and name to ""', () => {
    const s = slice({ ports: [{ port: 53, protocol: 'UDP' }, { port: 80 }] });
    expect(s.ports).toEqual([{ port: 53, protocol: 'UDP', name: '' }, { port: 80, name: '', protocol: 'TCP' }]);
    expect(messages(endpointslices.validate(s, ctx))).toEqual(['ports[1].name: Duplicate value: ""']);
  });

  it('accepts a valid slice', () => {
    expect(endpointslices.validate(slice(), ctx)).toEqual([]);
  });

  it('requires an address type and addresses of that family', () => {
    expect(messages(endpointslices.validate(slice({ addressType: '' }), ctx))).toEqual(['addressType: Required value']);
    expect(messages(endpointslices.validate(slice({ addressType: 'IP' }), ctx))).toEqual(['addressType: Unsupported value: "IP": supported values: "FQDN", "IPv4", "IPv6"']);
    expect(messages(endpointslices.validate(slice({ endpoints: [{ addresses: ['fd00::1', '127.0.0.1'] }, { addresses: [] }] }), ctx))).toEqual([
      'endpoints[0].addresses[0]: Invalid value: "fd00::1": must be a valid IPv4 address',
      'endpoints[0].addresses[1]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)',
      'endpoints[1].addresses: Required value: must contain at least 1 address',
    ]);
  });

  it('validates FQDN addresses', () => {
    const s = slice({ addressType: 'FQDN', endpoints: [{ addresses: ['example.com', 'localhost'] }] });
    expect(messages(endpointslices.validate(s, ctx))).toEqual(['endpoints[0].addresses[1]: Invalid value: "localhost": should be a domain with at least two segments separated by dots']);
  });

  it('limits endpoints to 1000', () => {
    const many = Array.from({ length: 1001 }, (_, i) => ({ addresses: [`10.0.${Math.trunc(i / 250)}.${(i % 250) + 1}`] }));
    const errs = endpointslices.validate(slice({ endpoints: many }), ctx);
    expect(errs.map(e => [e.type, e.field, e.value])).toEqual([['FieldValueTooMany', 'endpoints', 1001]]);
    // Upstream prints "endpoints: Too many: 1001: must have at most 1000 items"; the rendering is api/errors.ts's.
    expect(errs[0]!.message()).toMatch(/^endpoints: Too many: (1001: )?must have at most 1000 items$/);
  });

  it('keeps addressType immutable', () => {
    const old = slice();
    const next = deepCopy(old);
    next.addressType = 'IPv6';
    next.endpoints = [{ addresses: ['fd00::5'] }];
    expect(messages(endpointslices.validateUpdate(next, old, ctx))).toEqual(['addressType: Invalid value: "IPv6": field is immutable']);
  });

  it('prints ADDRESSTYPE PORTS ENDPOINTS AGE', () => {
    expect(endpointslices.tableColumns.map(c => c.name)).toEqual(['Name', 'AddressType', 'Ports', 'Endpoints', 'Age']);
    expect(endpointslices.tableRow(slice(), ctx.now())).toEqual(['web-abc', 'IPv4', '80', '10.42.0.5,10.42.1.7', '30s']);
    const s = slice({ ports: [{ name: 'a' }, { port: 1 }, { port: 2 }, { port: 3 }], endpoints: [] });
    expect(endpointslices.tableRow(s, ctx.now()).slice(2, 4)).toEqual(['a,1,2 + 1 more...', '<unset>']);
  });
});
