// The shape every stored Kubernetes object shares. Handlers and the store are generic over kinds,
// so they see objects through this minimal view; typed code uses `kubernetes-types` directly.
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';

/** ObjectMeta as the server writes it (kubernetes-types marks system fields read-only). */
export type MutableObjectMeta = { -readonly [K in keyof ObjectMeta]: ObjectMeta[K] };

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: MutableObjectMeta;
  [field: string]: unknown;
}

export interface GroupVersionKind {
  group: string; // '' for the core group
  version: string;
  kind: string;
}

/** `apps/v1` for a named group, `v1` for the core group, as upstream writes apiVersion. */
export function apiVersionOf(gv: { group: string; version: string }): string {
  return gv.group === '' ? gv.version : `${gv.group}/${gv.version}`;
}

export function parseApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

/** A JSON-compatible deep copy; stored objects are plain JSON so this is exact. */
export function deepCopy<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
