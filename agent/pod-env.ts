// A container's environment and argv as upstream builds them: envFrom first, then env in order
// (later wins), `$(VAR)` references expanded against what came before, values from ConfigMap and
// Secret keys and from downward-API fields. The ConfigMap/Secret reads go through `Lookup`, so the
// resolution itself is pure and unit-tested.
import type { ConfigMap, Container, Pod, ResourceFieldSelector, Secret } from 'kubernetes-types/core/v1.js';
import { tryParseQuantity, toMillis, toUnits } from '../api/quantity.js';
import type { ImageConfig } from './runtime.js';

export interface Lookup {
  configMap(namespace: string, name: string): Promise<ConfigMap | undefined>;
  secret(namespace: string, name: string): Promise<Secret | undefined>;
}

/** A missing ConfigMap/Secret (key) that is not optional: upstream's CreateContainerConfigError. */
export class ConfigError extends Error {
  readonly code = 'CreateContainerConfigError';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** `$(VAR)` expansion as upstream: `$$` escapes, unknown references stay as written. */
export function expandVars(s: string, vars: ReadonlyMap<string, string>): string {
  return s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name: string | undefined) => {
    if (m === '$$') return '$';
    return name !== undefined && vars.has(name) ? vars.get(name)! : m;
  });
}

/** The value of a downward-API field path, or undefined for an unsupported one. */
export function fieldValue(pod: Pod, path: string, podIP?: string, hostIP?: string): string | undefined {
  const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (m) return (m[1] === 'labels' ? pod.metadata?.labels : pod.metadata?.annotations)?.[m[2]!] ?? '';
  switch (path) {
    case 'metadata.name': return pod.metadata?.name ?? '';
    case 'metadata.namespace': return pod.metadata?.namespace ?? '';
    case 'metadata.uid': return pod.metadata?.uid ?? '';
    case 'spec.nodeName': return pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName': return pod.spec?.serviceAccountName ?? '';
    case 'status.podIP': return podIP ?? '';
    case 'status.podIPs': return podIP ?? '';
    case 'status.hostIP': return hostIP ?? '';
    case 'status.hostIPs': return hostIP ?? '';
    default: return undefined;
  }
}

/** The node's allocatable CPU (cores), memory and ephemeral storage (bytes): the default limits. */
export interface NodeAllocatable {
  cpu: number;
  memory: number;
  'ephemeral-storage'?: number;
}

/**
 * A resourceFieldRef's value as upstream's ExtractContainerResourceValue: the quantity divided by
 * the divisor (default 1) and rounded up, CPU in whole divisors of millicores, memory and storage
 * in bytes. An unset limit is the node's allocatable (upstream merges it in first); an unset
 * request is the limit when one is set (API defaulting), else 0. Undefined for an unknown resource.
 */
export function resourceFieldValue(pod: Pod, ref: ResourceFieldSelector, allocatable: NodeAllocatable | undefined, defaultContainer: string): string | undefined {
  const c = pod.spec?.containers?.find(x => x.name === (ref.containerName || defaultContainer));
  const m = /^(limits|requests)\.(cpu|memory|ephemeral-storage)$/.exec(ref.resource);
  if (!c || !m) return undefined;
  const [, kind, res] = m as unknown as [string, 'limits' | 'requests', 'cpu' | 'memory' | 'ephemeral-storage'];
  const q = (text: unknown) => (text === undefined ? undefined : tryParseQuantity(String(text)));
  const limit = q(c.resources?.limits?.[res]);
  const request = q(c.resources?.requests?.[res]) ?? limit;
  const divisor = q(ref.divisor ?? '1') ?? tryParseQuantity('1')!;
  if (res === 'cpu') {
    const milli = kind === 'limits' ? (limit ? toMillis(limit) : Math.round((allocatable?.cpu ?? 0) * 1000)) : (request ? toMillis(request) : 0);
    return String(Math.ceil(milli / Math.max(1, toMillis(divisor))));
  }
  const bytes = kind === 'limits' ? (limit ? toUnits(limit) : (allocatable?.[res] ?? 0)) : (request ? toUnits(request) : 0);
  return String(Math.ceil(bytes / Math.max(1, toUnits(divisor))));
}

/** `metadata.labels`/`metadata.annotations` in a downward API volume: sorted `key="value"` lines. */
export function formatMap(m: Record<string, string> | undefined): string {
  return Object.keys(m ?? {}).sort().map(k => `${k}=${JSON.stringify(m![k])}`).join('\n');
}

function secretValue(s: Secret, key: string): string | undefined {
  const v = s.data?.[key];
  if (v !== undefined) return Buffer.from(v, 'base64').toString('utf8');
  return s.stringData?.[key];
}

export async function resolveEnv(pod: Pod, c: Container, lookup: Lookup, podIP?: string, hostIP?: string, allocatable?: NodeAllocatable): Promise<string[]> {
  const ns = pod.metadata?.namespace ?? 'default';
  const vars = new Map<string, string>();
  for (const from of c.envFrom ?? []) {
    const prefix = from.prefix ?? '';
    if (from.configMapRef) {
      const cm = await lookup.configMap(ns, from.configMapRef.name ?? '');
      if (!cm) { if (from.configMapRef.optional) continue; throw new ConfigError(`configmap "${from.configMapRef.name}" not found`); }
      for (const [k, v] of Object.entries(cm.data ?? {})) vars.set(prefix + k, v);
    } else if (from.secretRef) {
      const s = await lookup.secret(ns, from.secretRef.name ?? '');
      if (!s) { if (from.secretRef.optional) continue; throw new ConfigError(`secret "${from.secretRef.name}" not found`); }
      for (const k of Object.keys({ ...(s.data ?? {}), ...(s.stringData ?? {}) })) vars.set(prefix + k, secretValue(s, k) ?? '');
    }
  }
  for (const e of c.env ?? []) {
    const vf = e.valueFrom;
    if (!vf) { vars.set(e.name, expandVars(e.value ?? '', vars)); continue; }
    if (vf.fieldRef) {
      const v = fieldValue(pod, vf.fieldRef.fieldPath, podIP, hostIP);
      if (v === undefined) throw new ConfigError(`unsupported fieldPath "${vf.fieldRef.fieldPath}" in env "${e.name}"`);
      vars.set(e.name, v);
    } else if (vf.configMapKeyRef) {
      const ref = vf.configMapKeyRef;
      const v = (await lookup.configMap(ns, ref.name ?? ''))?.data?.[ref.key];
      if (v === undefined) { if (ref.optional) continue; throw new ConfigError(`couldn't find key ${ref.key} in ConfigMap ${ns}/${ref.name}`); }
      vars.set(e.name, v);
    } else if (vf.secretKeyRef) {
      const ref = vf.secretKeyRef;
      const s = await lookup.secret(ns, ref.name ?? '');
      const v = s ? secretValue(s, ref.key) : undefined;
      if (v === undefined) { if (ref.optional) continue; throw new ConfigError(`couldn't find key ${ref.key} in Secret ${ns}/${ref.name}`); }
      vars.set(e.name, v);
    } else if (vf.resourceFieldRef) {
      const v = resourceFieldValue(pod, vf.resourceFieldRef, allocatable, c.name);
      if (v === undefined) throw new ConfigError(`unsupported container resource: ${vf.resourceFieldRef.resource}`);
      vars.set(e.name, v);
    }
  }
  return [...vars].map(([k, v]) => `${k}=${v}`);
}

/**
 * The argv as upstream: `command` replaces the image's entrypoint, `args` its cmd; `$(VAR)` in
 * either is expanded from the container's environment. Empty means "the image's default" (ctr
 * then uses the image config itself).
 */
export function containerArgv(c: Container, image: ImageConfig | undefined, env: readonly string[]): string[] {
  if (!c.command?.length && !c.args?.length) return [];
  const vars = new Map(env.map(e => { const i = e.indexOf('='); return [e.slice(0, i), e.slice(i + 1)] as [string, string]; }));
  const x = (s: string) => expandVars(s, vars);
  if (c.command?.length) return [...c.command.map(x), ...(c.args ?? []).map(x)];
  return [...(image?.entrypoint ?? []), ...(c.args ?? []).map(x)];
}
