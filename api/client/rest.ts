// `ClusterClient` over the Kubernetes REST API. The transport (HTTPS with a keep-alive agent and
// the component's client certificate) is injected, so this module is pure: it builds paths and
// query strings, encodes bodies, decodes `Status` errors and splits watch streams into events.
import { StatusError, type StatusReason } from '../errors.js';
import type { KubeObject } from '../object.js';
import {
  apiVersionOfType, resourcePath, type ObjectLike,
  type ClusterClient, type DeleteOptions, type ListOptions, type ObjectList, type PatchOptions, type PatchType,
  type ResourceType, type WatchEvent, type WatchHandle, type WatchOptions, type WriteOptions,
} from './types.js';

export interface TransportResponse { status: number; body: string }

export interface Transport {
  request(method: string, path: string, body?: string, contentType?: string): Promise<TransportResponse>;
  /**
   * A streaming GET: `onChunk` receives the body as it arrives. `done` resolves with the status
   * (and the body when it is not 200) once the stream ends, rejects on a connection error.
   */
  stream(path: string, onChunk: (text: string) => void): { stop(): void; done: Promise<TransportResponse> };
}

const patchContentType: Record<PatchType, string> = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
};

/** A `StatusError` from an error response; a non-Status body keeps its text in the message. */
export function errorFromResponse(res: TransportResponse): StatusError {
  try {
    const s = JSON.parse(res.body) as { kind?: string; reason?: StatusReason; message?: string; details?: Record<string, unknown>; code?: number };
    if (s.kind === 'Status') return new StatusError(s.code ?? res.status, s.reason ?? 'InternalError', s.message ?? '', s.details as never);
  } catch { /* not JSON */ }
  return new StatusError(res.status, res.status === 404 ? 'NotFound' : 'InternalError', `unexpected response ${res.status}: ${res.body.slice(0, 200)}`);
}

function query(params: Record<string, string | number | boolean | undefined>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') parts.push(`${k}=${encodeURIComponent(String(v))}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

/** Splits newline-delimited JSON as it arrives in arbitrary chunks. */
export class LineSplitter {
  private rest = '';
  constructor(private readonly onLine: (line: string) => void) {}
  push(text: string): void {
    this.rest += text;
    let nl: number;
    while ((nl = this.rest.indexOf('\n')) >= 0) {
      const line = this.rest.slice(0, nl).trim();
      this.rest = this.rest.slice(nl + 1);
      if (line) this.onLine(line);
    }
  }
  flush(): void {
    const line = this.rest.trim();
    this.rest = '';
    if (line) this.onLine(line);
  }
}

export class RestClusterClient implements ClusterClient {
  constructor(private readonly transport: Transport) {}

  private async call<T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const res = await this.transport.request(method, path, payload, payload === undefined ? undefined : contentType);
    if (res.status < 200 || res.status >= 300) throw errorFromResponse(res);
    return (res.body ? JSON.parse(res.body) : undefined) as T;
  }

  get<T extends ObjectLike>(type: ResourceType, namespace: string | undefined, name: string): Promise<T> {
    return this.call<T>('GET', resourcePath(type, namespace, name));
  }

  list<T extends ObjectLike>(type: ResourceType, namespace: string | undefined, opts: ListOptions = {}): Promise<ObjectList<T>> {
    return this.call<ObjectList<T>>('GET', resourcePath(type, namespace) + query({ ...opts }));
  }

  watch<T extends ObjectLike>(type: ResourceType, namespace: string | undefined, opts: WatchOptions, onEvent: (e: WatchEvent<T>) => void): WatchHandle {
    const path = resourcePath(type, namespace) + query({ watch: true, ...opts });
    const splitter = new LineSplitter(line => {
      let ev: WatchEvent<T>;
      try { ev = JSON.parse(line) as WatchEvent<T>; } catch { return; }
      onEvent(ev);
    });
    const s = this.transport.stream(path, text => splitter.push(text));
    const done = s.done.then(res => {
      splitter.flush();
      if (res.status !== 200) throw errorFromResponse(res);
    });
    return { stop: () => s.stop(), done };
  }

  create<T extends ObjectLike>(type: ResourceType, namespace: string | undefined, obj: T, opts: WriteOptions = {}): Promise<T> {
    const body = { apiVersion: apiVersionOfType(type), kind: type.kind, ...obj };
    return this.call<T>('POST', resourcePath(type, namespace) + query({ dryRun: opts.dryRun ? 'All' : undefined, fieldManager: opts.fieldManager }), body);
  }

  update<T extends ObjectLike>(type: ResourceType, obj: T, opts: WriteOptions & { subresource?: string } = {}): Promise<T> {
    const name = obj.metadata?.name ?? '';
    const body = { apiVersion: apiVersionOfType(type), kind: type.kind, ...obj };
    return this.call<T>('PUT', resourcePath(type, obj.metadata?.namespace, name, opts.subresource) + query({ dryRun: opts.dryRun ? 'All' : undefined, fieldManager: opts.fieldManager }), body);
  }

  patch<T extends ObjectLike>(type: ResourceType, namespace: string | undefined, name: string, patchType: PatchType, patch: unknown, opts: PatchOptions = {}): Promise<T> {
    const q = query({ dryRun: opts.dryRun ? 'All' : undefined, fieldManager: opts.fieldManager ?? (patchType === 'apply' ? 'k8ts' : undefined), force: opts.force });
    return this.call<T>('PATCH', resourcePath(type, namespace, name, opts.subresource) + q, patch, patchContentType[patchType]);
  }

  async delete(type: ResourceType, namespace: string | undefined, name: string, opts: DeleteOptions = {}): Promise<KubeObject | undefined> {
    const body = Object.keys(opts).length ? { apiVersion: 'v1', kind: 'DeleteOptions', ...opts } : undefined;
    const res = await this.call<KubeObject>('DELETE', resourcePath(type, namespace, name), body);
    return res && res.kind !== 'Status' && res.metadata?.deletionTimestamp ? res : undefined;
  }

  getSubresource<T>(type: ResourceType, namespace: string | undefined, name: string, subresource: string): Promise<T> {
    return this.call<T>('GET', resourcePath(type, namespace, name, subresource));
  }

  createSubresource(type: ResourceType, namespace: string | undefined, name: string, subresource: string, body: unknown): Promise<unknown> {
    return this.call('POST', resourcePath(type, namespace, name, subresource), body);
  }
}

export function isStatus(err: unknown, code: number): boolean {
  return err instanceof StatusError && err.code === code;
}
export const isNotFound = (err: unknown) => isStatus(err, 404);
export const isConflict = (err: unknown) => err instanceof StatusError && err.code === 409 && err.reason === 'Conflict';
export const isAlreadyExists = (err: unknown) => err instanceof StatusError && err.code === 409 && err.reason === 'AlreadyExists';
