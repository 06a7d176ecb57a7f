// Endpoints (core/v1): subsets of addresses and ports, written by the endpoints controller
// and read by `kubectl get ep`. Validation and the ENDPOINTS column follow upstream.
import type { EndpointAddress, EndpointPort, Endpoints } from 'kubernetes-types/core/v1.js';
import { field, FieldPath, type FieldError } from '../../../api/errors.js';
import type { KubeObject } from '../../../api/object.js';
import { validateLabelName, validateObjectMeta, validateObjectMetaUpdate } from '../../../api/validation/meta.js';
import { isDNS1123Label, isDNS1123Subdomain, isValidIP, isValidPortNum, nameIsDNSSubdomain } from '../../../api/validation/names.js';
import { ageColumn, column, nameColumn, translateTimestampSince } from '../printers.js';
import type { ResourceDef } from '../types.js';
import { ALL_VERBS, as } from './common.js';
import { validateNonSpecialIP } from './services.js';

const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];

function validateAddress(a: EndpointAddress, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const ipPath = path.child('ip').toString();
  const msgs = isValidIP(a.ip ?? '');
  for (const m of msgs) errs.push(field.invalid(ipPath, a.ip ?? '', m));
  if (a.hostname) for (const m of isDNS1123Label(a.hostname)) errs.push(field.invalid(path.child('hostname').toString(), a.hostname, m));
  if (a.nodeName) for (const m of isDNS1123Subdomain(a.nodeName)) errs.push(field.invalid(path.child('nodeName').toString(), a.nodeName, m));
  errs.push(...validateNonSpecialIP(a.ip ?? '', ipPath));
  return errs;
}

function validatePort(p: EndpointPort, requireName: boolean, path: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (requireName && !p.name) errs.push(field.required(path.child('name').toString(), ''));
  else if (p.name) for (const m of isDNS1123Label(p.name)) errs.push(field.invalid(path.child('name').toString(), p.name, m));
  for (const m of isValidPortNum(p.port)) errs.push(field.invalid(path.child('port').toString(), p.port, m));
  if (!p.protocol) errs.push(field.required(path.child('protocol').toString(), ''));
  else if (!PROTOCOLS.includes(p.protocol)) errs.push(field.notSupported(path.child('protocol').toString(), p.protocol, PROTOCOLS));
  if (p.appProtocol !== undefined) errs.push(...validateLabelName(p.appProtocol, path.child('appProtocol')));
  return errs;
}

function validateSubsets(ep: Endpoints): FieldError[] {
  const errs: FieldError[] = [];
  const path = FieldPath.root('subsets');
  (ep.subsets ?? []).forEach((ss, i) => {
    const p = path.index(i);
    if (!ss.addresses?.length && !ss.notReadyAddresses?.length) errs.push(field.required(p.toString(), 'must specify `addresses` or `notReadyAddresses`'));
    (ss.addresses ?? []).forEach((a, j) => errs.push(...validateAddress(a, p.child('addresses').index(j))));
    (ss.notReadyAddresses ?? []).forEach((a, j) => errs.push(...validateAddress(a, p.child('notReadyAddresses').index(j))));
    const ports = ss.ports ?? [];
    ports.forEach((port, j) => errs.push(...validatePort(port, ports.length > 1, p.child('ports').index(j))));
  });
  return errs;
}

/** Upstream's formatEndpoints: up to three `ip:port`, then ` + N more...`; `<none>` without subsets. */
export function formatEndpoints(ep: Endpoints): string {
  const subsets = ep.subsets ?? [];
  if (subsets.length === 0) return '<none>';
  const list: string[] = [];
  const max = 3;
  let more = false;
  let count = 0;
  const hostPort = (ip: string, port: number) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);
  for (const ss of subsets) {
    const addrs = ss.addresses ?? [];
    if (!ss.ports?.length) {
      count += addrs.length;
      for (const a of addrs) {
        if (list.length === max) { more = true; break; }
        list.push(a.ip);
      }
      continue;
    }
    for (const port of ss.ports) {
      count += addrs.length;
      for (const a of addrs) {
        if (list.length === max) { more = true; break; }
        list.push(hostPort(a.ip, port.port));
      }
    }
  }
  const ret = list.join(',');
  return more ? `${ret} + ${count - max} more...` : ret;
}

export const endpoints: ResourceDef = {
  group: '',
  version: 'v1',
  kind: 'Endpoints',
  listKind: 'EndpointsList',
  resource: 'endpoints',
  singularName: 'endpoints',
  shortNames: ['ep'],
  namespaced: true,
  verbs: ALL_VERBS,
  subresources: [],
  schemaName: 'io.k8s.api.core.v1.Endpoints',
  hasStatusSubresource: false,
  tracksGeneration: false,

  applyDefaults(obj) {
    for (const ss of as<Endpoints>(obj).subsets ?? []) for (const p of ss.ports ?? []) p.protocol ||= 'TCP';
  },
  validate(obj: KubeObject) {
    const ep = as<Endpoints>(obj);
    return [...validateObjectMeta(ep.metadata, true, FieldPath.root('metadata'), nameIsDNSSubdomain), ...validateSubsets(ep)];
  },
  validateUpdate(obj, old) {
    const ep = as<Endpoints>(obj);
    return [...validateObjectMetaUpdate(ep.metadata, as<Endpoints>(old).metadata), ...validateSubsets(ep)];
  },

  tableColumns: [
    nameColumn(),
    column('Endpoints', 'string', 'Endpoints of the endpoints'),
    ageColumn(),
  ],
  tableRow(obj, now) {
    const ep = as<Endpoints>(obj);
    return [ep.metadata?.name ?? '', formatEndpoints(ep), translateTimestampSince(ep.metadata?.creationTimestamp, now)];
  },
};
