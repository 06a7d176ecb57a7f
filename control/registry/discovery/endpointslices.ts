// discovery.k8s.io/v1 EndpointSlice: ports default to name "" and protocol TCP; validation as
// upstream's ValidateEndpointSlice (address type required and immutable, at most 1000 endpoints of
// at most 100 addresses each, addresses of the slice's family and not loopback/link-local/
// unspecified, unique DNS-label port names). Upstream's limit on ports is 20000 (the documented
// 100 was relaxed), and we follow the code. Columns: ADDRESSTYPE PORTS ENDPOINTS AGE.
import type { EndpointPort, EndpointSlice, Endpoint } from 'kubernetes-types/discovery/v1.js';
import { FieldPath, field, type FieldError } from '../../../api/errors.js';
import type { KubeObject } from '../../../api/object.js';
import { validateImmutableField } from '../../../api/validation/immutable.js';
import { parseIPSloppy } from '../../../api/cidr.js';
import { validateLabels, validateObjectMeta, validateObjectMetaUpdate } from '../../../api/validation/meta.js';
import { isDNS1123Label, isDNS1123Subdomain, isQualifiedName, isValidLabelValue, nameIsDNSSubdomain } from '../../../api/validation/names.js';
import { ageColumn, ageOf, column, nameColumn } from '../printers.js';
import type { ResourceDef } from '../types.js';

/** The label tying a slice to its Service (set by the EndpointSlice controller). */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** The label naming the controller that manages a slice. */
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';

const ADDRESS_TYPES = ['FQDN', 'IPv4', 'IPv6'];
const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const MAX_ENDPOINTS = 1000;
const MAX_ADDRESSES = 100;
const MAX_PORTS = 20000;
const MAX_TOPOLOGY_LABELS = 16;
const MAX_ZONE_HINTS = 8;

const asSlice = (obj: KubeObject): EndpointSlice => obj as unknown as EndpointSlice;

export function applyEndpointSliceDefaults(obj: KubeObject): void {
  for (const p of asSlice(obj).ports ?? []) {
    p.name ??= '';
    p.protocol ??= 'TCP';
  }
}

/** Upstream's ValidateEndpointIP: a routable unicast address. */
function validateEndpointIP(address: string, path: string): FieldError[] {
  const ip = parseIPSloppy(address);
  if (!ip) return [field.invalid(path, address, 'must be a valid IP address')];
  const errs: FieldError[] = [];
  const v = ip.value;
  if (ip.family === 4) {
    if (v === 0n) errs.push(field.invalid(path, address, 'may not be unspecified (0.0.0.0)'));
    if (v >> 24n === 127n) errs.push(field.invalid(path, address, 'may not be in the loopback range (127.0.0.0/8, ::1/128)'));
    if (v >> 16n === 0xa9fen) errs.push(field.invalid(path, address, 'may not be in the link-local range (169.254.0.0/16, fe80::/10)'));
    if (v >> 8n === 0xe00000n) errs.push(field.invalid(path, address, 'may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)'));
  } else {
    if (v === 0n) errs.push(field.invalid(path, address, 'may not be unspecified (0.0.0.0)'));
    if (v === 1n) errs.push(field.invalid(path, address, 'may not be in the loopback range (127.0.0.0/8, ::1/128)'));
    if (v >> 118n === 0x3fan) errs.push(field.invalid(path, address, 'may not be in the link-local range (169.254.0.0/16, fe80::/10)'));
    if (v >> 112n === 0xff02n) errs.push(field.invalid(path, address, 'may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)'));
  }
  return errs;
}

/** Upstream's IsFullyQualifiedDomainName. */
function validateFQDN(name: string, path: string): FieldError[] {
  if (name.length === 0) return [field.required(path)];
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  const sub = isDNS1123Subdomain(n);
  if (sub.length > 0) return [field.invalid(path, n, sub.join(','))];
  const labels = n.split('.');
  if (labels.length < 2) return [field.invalid(path, n, 'should be a domain with at least two segments separated by dots')];
  for (const l of labels) {
    const errs = isDNS1123Label(l);
    if (errs.length > 0) return [field.invalid(path, l, errs.join(','))];
  }
  return [];
}

function validateEndpoints(endpoints: Endpoint[] | undefined, addressType: string, path: FieldPath): FieldError[] {
  const list = endpoints ?? [];
  if (list.length > MAX_ENDPOINTS) return [field.tooMany(path.toString(), list.length, MAX_ENDPOINTS)];
  const errs: FieldError[] = [];
  list.forEach((ep, i) => {
    const p = path.index(i);
    const aPath = p.child('addresses');
    const addresses = ep.addresses ?? [];
    if (addresses.length === 0) errs.push(field.required(aPath.toString(), 'must contain at least 1 address'));
    else if (addresses.length > MAX_ADDRESSES) errs.push(field.tooMany(aPath.toString(), addresses.length, MAX_ADDRESSES));
    addresses.forEach((a, j) => {
      const ap = aPath.index(j).toString();
      if (addressType === 'IPv4') {
        if (parseIPSloppy(a)?.family !== 4) errs.push(field.invalid(ap, a, 'must be a valid IPv4 address'));
        errs.push(...validateEndpointIP(a, ap));
      } else if (addressType === 'IPv6') {
        if (parseIPSloppy(a)?.family !== 6) errs.push(field.invalid(ap, a, 'must be a valid IPv6 address'));
        errs.push(...validateEndpointIP(a, ap));
      } else if (addressType === 'FQDN') {
        errs.push(...validateFQDN(a, ap));
      }
    });
    if (ep.nodeName !== undefined) for (const m of nameIsDNSSubdomain(ep.nodeName, false)) errs.push(field.invalid(p.child('nodeName').toString(), ep.nodeName, m));
    const tPath = p.child('deprecatedTopology');
    const topo = ep.deprecatedTopology ?? {};
    if (Object.keys(topo).length > MAX_TOPOLOGY_LABELS) errs.push(field.tooMany(tPath.toString(), Object.keys(topo).length, MAX_TOPOLOGY_LABELS));
    errs.push(...validateLabels(topo, tPath));
    if (ep.hostname !== undefined) for (const m of isDNS1123Label(ep.hostname)) errs.push(field.invalid(p.child('hostname').toString(), ep.hostname, m));
    const zones = ep.hints?.forZones;
    if (zones) {
      const zPath = p.child('hints').child('forZones');
      if (zones.length > MAX_ZONE_HINTS) {
        errs.push(field.tooMany(zPath.toString(), zones.length, MAX_ZONE_HINTS));
      } else {
        const seen = new Set<string>();
        zones.forEach((z, k) => {
          const np = zPath.index(k).child('name').toString();
          if (seen.has(z.name)) errs.push(field.duplicate(np, z.name));
          else seen.add(z.name);
          for (const m of isValidLabelValue(z.name)) errs.push(field.invalid(np, z.name, m));
        });
      }
    }
  });
  return errs;
}

function validatePorts(ports: EndpointPort[] | undefined, path: FieldPath): FieldError[] {
  const list = ports ?? [];
  if (list.length > MAX_PORTS) return [field.tooMany(path.toString(), list.length, MAX_PORTS)];
  const errs: FieldError[] = [];
  const names = new Set<string>();
  list.forEach((port, i) => {
    const p = path.index(i);
    const name = port.name ?? '';
    if (name.length > 0) for (const m of isDNS1123Label(name)) errs.push(field.invalid(p.child('name').toString(), name, m));
    if (names.has(name)) errs.push(field.duplicate(p.child('name').toString(), name));
    else names.add(name);
    if (port.protocol === undefined) errs.push(field.required(p.child('protocol').toString()));
    else if (!PROTOCOLS.includes(port.protocol)) errs.push(field.notSupported(p.child('protocol').toString(), port.protocol, PROTOCOLS));
    if (port.appProtocol !== undefined) for (const m of isQualifiedName(port.appProtocol)) errs.push(field.invalid(p.child('appProtocol').toString(), port.appProtocol, m));
  });
  return errs;
}

function validateSlice(obj: KubeObject): FieldError[] {
  const s = asSlice(obj);
  const errs = [...validateObjectMeta(s.metadata, true, FieldPath.root('metadata'), nameIsDNSSubdomain)];
  const at = s.addressType ?? '';
  if (at === '') errs.push(field.required('addressType'));
  else if (!ADDRESS_TYPES.includes(at)) errs.push(field.notSupported('addressType', at, ADDRESS_TYPES));
  errs.push(...validateEndpoints(s.endpoints, at, FieldPath.root('endpoints')));
  errs.push(...validatePorts(s.ports, FieldPath.root('ports')));
  return errs;
}

/** Upstream's listWithMoreString: at most three items, `<unset>` when there are none. */
function listWithMore(items: string[], max = 3): string {
  if (items.length === 0) return '<unset>';
  const shown = items.slice(0, max).join(',');
  return items.length > max ? `${shown} + ${items.length - max} more...` : shown;
}

export const endpointslices: ResourceDef = {
  group: 'discovery.k8s.io', version: 'v1', kind: 'EndpointSlice', listKind: 'EndpointSliceList',
  resource: 'endpointslices', singularName: 'endpointslice',
  namespaced: true,
  verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
  subresources: [],
  schemaName: 'io.k8s.api.discovery.v1.EndpointSlice',
  hasStatusSubresource: false,
  tracksGeneration: true,
  applyDefaults: obj => applyEndpointSliceDefaults(obj),
  validate: obj => validateSlice(obj),
  validateUpdate: (obj, old) => [
    ...validateObjectMetaUpdate(obj.metadata, old.metadata),
    ...validateSlice(obj).filter(e => !e.field.startsWith('metadata.')),
    ...validateImmutableField(asSlice(obj).addressType, asSlice(old).addressType, 'addressType'),
  ],
  tableColumns: [
    nameColumn(),
    column('AddressType', 'string', 'addressType specifies the type of address carried by this EndpointSlice. All addresses in this slice must be the same type. This field is immutable after creation. The following address types are currently supported: * IPv4: Represents an IPv4 Address. * IPv6: Represents an IPv6 Address. * FQDN: Represents a Fully Qualified Domain Name.'),
    column('Ports', 'string', 'ports specifies the list of network ports exposed by each endpoint in this slice. Each port must have a unique name. When ports is empty, it indicates that there are no defined ports. When a port is defined with a nil port value, it indicates "all ports". Each slice may include a maximum of 100 ports.'),
    column('Endpoints', 'string', 'endpoints is a list of unique endpoints in this slice. Each slice may include a maximum of 1000 endpoints.'),
    ageColumn(),
  ],
  tableRow(obj, now) {
    const s = asSlice(obj);
    const ports = (s.ports ?? []).map(p => (p.port !== undefined && p.port !== null ? String(p.port) : p.name ? p.name : '*'));
    const addresses = (s.endpoints ?? []).flatMap(e => e.addresses ?? []);
    return [s.metadata?.name ?? '', s.addressType ?? '', listWithMore(ports), listWithMore(addresses), ageOf(s, now)];
  },
};
