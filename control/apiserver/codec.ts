// Bodies in and out: reading a request body within the size limit, decoding JSON or YAML, and
// choosing the response form from the Accept header (plain JSON, YAML, a meta.k8s.io Table, or
// aggregated discovery), as upstream's content negotiation does for the forms we serve.
import type { IncomingMessage, ServerResponse } from 'node:http';
import YAML from 'yaml';
import { errors, StatusError } from '../../api/errors.js';
import { decodeKubernetesProtobuf, schemaNameForApiVersion } from '../../api/protobuf/decode.js';
import { schemas } from '../../api/schema/index.js';

export const protobufMediaType = 'application/vnd.kubernetes.protobuf';

/** Upstream's limit for a request body (3 MiB). */
export const maxBodyBytes = 3 * 1024 * 1024;

export async function readBody(req: IncomingMessage, limit = maxBodyBytes): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) {
    req.resume();
    throw errors.tooLarge(`the request body of ${declared} bytes is larger than the limit of ${limit} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) {
      req.resume();
      throw errors.tooLarge(`the request body is larger than the limit of ${limit} bytes`);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

export function mediaType(contentType: string | undefined): string {
  return (contentType ?? 'application/json').split(';')[0]!.trim().toLowerCase();
}

/** JSON, or YAML for `application/yaml` and apply patches (which kubectl sends as JSON, a subset of YAML). */
export function decodeBody(body: Buffer, type: string): unknown {
  // Some kubectl commands (`create namespace|configmap|deployment…`) send protobuf, with no
  // fallback to JSON: decode it into the same object the JSON path would carry.
  if (type === protobufMediaType) return decodeKubernetesProtobuf(body, schemaNameForApiVersion, schemas);
  const text = body.toString('utf8');
  if (text.trim() === '') throw errors.badRequest('the request body is empty');
  if (type === 'application/yaml' || type === 'application/apply-patch+yaml') {
    try {
      const doc = YAML.parseDocument(text, { uniqueKeys: true });
      if (doc.errors.length > 0) throw doc.errors[0];
      return doc.toJSON();
    } catch (err) {
      throw errors.badRequest(`error converting YAML to JSON: ${(err as Error).message}`);
    }
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw errors.badRequest(`the object provided is unrecognized (json parse error: ${(err as Error).message})`);
  }
}

export type ResponseForm =
  | { form: 'json' }
  | { form: 'yaml' }
  | { form: 'table'; version: 'v1' | 'v1beta1' }
  | { form: 'discovery'; version: 'v2' | 'v2beta1' };

interface AcceptClause { type: string; params: Map<string, string>; q: number }

function parseAccept(accept: string | undefined): AcceptClause[] {
  if (!accept) return [{ type: '*/*', params: new Map(), q: 1 }];
  return accept.split(',').map(part => {
    const [type, ...rest] = part.split(';').map(s => s.trim());
    const params = new Map<string, string>();
    for (const p of rest) {
      const eq = p.indexOf('=');
      if (eq > 0) params.set(p.slice(0, eq).trim(), p.slice(eq + 1).trim());
    }
    const q = params.has('q') ? Number(params.get('q')) : 1;
    return { type: (type ?? '').toLowerCase(), params, q: Number.isFinite(q) ? q : 0 };
  }).filter(c => c.q > 0);
}

/**
 * The first Accept clause we can honour, in the client's order. `allowTable` and
 * `allowDiscovery` say whether the endpoint can produce those forms; clauses asking for forms we
 * cannot produce are skipped, and only if nothing is left do we answer 406.
 */
export function negotiate(accept: string | undefined, opts: { allowTable?: boolean; allowDiscovery?: boolean }): ResponseForm {
  for (const c of parseAccept(accept)) {
    const as = c.params.get('as');
    if (as) {
      const g = c.params.get('g');
      const v = c.params.get('v');
      if (c.type !== 'application/json') continue;
      if (as === 'Table' && g === 'meta.k8s.io' && (v === 'v1' || v === 'v1beta1') && opts.allowTable) return { form: 'table', version: v };
      if (as === 'APIGroupDiscoveryList' && g === 'apidiscovery.k8s.io' && (v === 'v2' || v === 'v2beta1') && opts.allowDiscovery) return { form: 'discovery', version: v };
      continue;
    }
    if (c.type === 'application/json' || c.type === 'application/*' || c.type === '*/*') return { form: 'json' };
    if (c.type === 'application/yaml') return { form: 'yaml' };
  }
  throw errors.notAcceptable(`only the following media types are accepted: application/json, application/yaml${opts.allowTable ? ', application/json;as=Table;v=v1;g=meta.k8s.io' : ''}`);
}

export function contentTypeFor(form: ResponseForm): string {
  switch (form.form) {
    case 'yaml': return 'application/yaml';
    case 'table': return `application/json;as=Table;v=${form.version};g=meta.k8s.io`;
    case 'discovery': return `application/json;g=apidiscovery.k8s.io;v=${form.version};as=APIGroupDiscoveryList`;
    default: return 'application/json';
  }
}

export function encode(form: ResponseForm, body: unknown): string {
  return form.form === 'yaml' ? YAML.stringify(body) : JSON.stringify(body);
}

export function send(res: ServerResponse, status: number, body: unknown, form: ResponseForm = { form: 'json' }, headers: Record<string, string> = {}): void {
  const text = encode(form, body);
  res.writeHead(status, { 'Content-Type': contentTypeFor(form), 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-cache, private', ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, err: unknown): StatusError {
  const status = err instanceof StatusError ? err : errors.internal((err as Error)?.message ?? String(err));
  if (!res.headersSent) send(res, status.code, status.toStatus());
  else res.destroy();
  return status;
}
