// RFC 6902 JSON Patch (`application/json-patch+json`), with upstream's wire behaviour: operations
// apply in order to a copy, the first failure aborts the whole patch, and failures are reported the
// way the apiserver reports its JSON-patch library's errors — a generic 422 `Invalid` Status with
// empty details, as observed from real apiservers; the library's message ("testing value /x
// failed: test failed") is kept on the error for logging. A body that is not a list of operations
// is a 400, as the apiserver's decode step answers.
//
// Like upstream's library (json-patch v4, which the apiserver pins), negative array indices count
// from the end, `replace` at the document root swaps the whole document, `replace` of a missing
// object member creates it (RFC 6902 would refuse), and `add`, `remove`, `move` and `copy` cannot
// target the root.
import { StatusError, errors } from '../errors.js';
import { deepCopy } from '../object.js';
import { isJsonObject, jsonEqual, type Json } from './json.js';

export interface JsonPatchOperation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  from?: string;
  value?: unknown;
}

/** Upstream's limit on the number of operations in one JSON patch. */
export const maxJsonPatchOperations = 10000;

/** Decodes `~1` then `~0` in each reference token of a JSON pointer (RFC 6901 §4). */
export function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw patchFailure(`JSON pointer ${JSON.stringify(pointer)} must start with "/"`);
  return pointer.slice(1).split('/').map(t => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Escapes one reference token for a JSON pointer: `~` as `~0`, `/` as `~1`. */
export function escapePointerToken(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * A patch that cannot be applied. The apiserver answers it with a generic 422 whose details are
 * empty (the library's message is not sent to the client); we keep that message in `detail` for
 * logs and tests.
 */
export class PatchApplyError extends StatusError {
  constructor(readonly detail: string) {
    super(422, 'Invalid', 'the server rejected our request due to an error in our request', {});
    this.name = 'PatchApplyError';
  }
}

export function patchFailure(message: string): PatchApplyError {
  return new PatchApplyError(message);
}

/** Checks that a decoded request body is a list of operations; a 400 otherwise. */
export function decodeJsonPatch(body: unknown): JsonPatchOperation[] {
  if (!Array.isArray(body)) {
    throw errors.badRequest(`json: cannot unmarshal ${jsonKind(body)} into Go value of type jsonpatch.Patch`);
  }
  if (body.length > maxJsonPatchOperations) {
    throw errors.tooLarge(`The allowed maximum operations in a JSON patch is ${maxJsonPatchOperations}, got ${body.length}`);
  }
  for (const op of body) {
    if (!isJsonObject(op) && op !== null) throw errors.badRequest(`json: cannot unmarshal ${jsonKind(op)} into Go value of type jsonpatch.Operation`);
  }
  return body as unknown as JsonPatchOperation[];
}

/** The JSON type name Go's decoder uses in its messages. */
function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null || typeof v === 'object') return 'object';
  return typeof v === 'boolean' ? 'bool' : typeof v;
}

/** Applies the operations in order to a copy of `doc`; throws a StatusError on the first failure. */
export function applyJsonPatch<T = unknown>(doc: T, patch: unknown): T {
  const ops = decodeJsonPatch(patch);
  let root = deepCopy(doc) as unknown as Json;
  for (const op of ops) root = applyOperation(root, op ?? ({} as JsonPatchOperation));
  return root as unknown as T;
}

function applyOperation(root: Json, op: JsonPatchOperation): Json {
  const kind = typeof op.op === 'string' ? op.op : 'unknown';
  const path = typeof op.path === 'string' ? op.path : undefined;
  const needPath = (): string => {
    if (path === undefined) throw patchFailure(`${kind} operation failed to decode path: missing value`);
    return path;
  };
  const needFrom = (): string => {
    if (typeof op.from !== 'string') throw patchFailure(`${kind} operation failed to decode from: missing value`);
    return op.from;
  };
  const needValue = (): Json => {
    if (!('value' in op)) throw patchFailure(`${kind} operation, missing value field: missing value`);
    return deepCopy(op.value ?? null) as Json;
  };
  switch (kind) {
    case 'add': {
      const p = needPath();
      return add(root, p, needValue(), `add operation does not apply: doc is missing path: "${p}": missing value`);
    }
    case 'remove': {
      const p = needPath();
      const { doc } = remove(root, p, `remove operation does not apply: doc is missing path: "${p}": missing value`);
      return doc;
    }
    case 'replace': {
      const p = needPath();
      const value = needValue();
      if (p === '') {
        if (typeof value !== 'object' || value === null) throw patchFailure('replace operation value must be object or array');
        return value;
      }
      const { parent, key } = locate(root, p, `replace operation does not apply: doc is missing path: ${p}: missing value`);
      if (Array.isArray(parent)) {
        const i = arrayIndex(parent, key, false, `error in remove for path: '${p}'`);
        parent[i] = value;
      } else {
        // Upstream's library (json-patch v4) lets replace create a missing member, as add would.
        parent[key] = value;
      }
      return root;
    }
    case 'move': {
      const from = needFrom();
      const p = needPath();
      const missing = `move operation does not apply: doc is missing from path: ${from}: missing value`;
      if (from !== '') {
        // Upstream names only the last token in this message.
        const { parent, key } = locate(root, from, missing);
        if (Array.isArray(parent)) arrayIndex(parent, key, false, `error in move for path: '${key}'`);
        else if (!Object.prototype.hasOwnProperty.call(parent, key)) {
          throw patchFailure(`error in move for path: '${key}': Unable to remove nonexistent key: ${key}: missing value`);
        }
      }
      const { doc, value } = remove(root, from, missing);
      return add(doc, p, value, `move operation does not apply: doc is missing destination path: ${p}: missing value`);
    }
    case 'copy': {
      const from = needFrom();
      const p = needPath();
      const value = get(root, from, `copy operation does not apply: doc is missing from path: ${from}: missing value`);
      return add(root, p, deepCopy(value), `copy operation does not apply: doc is missing destination path: ${p}: missing value`);
    }
    case 'test': {
      const p = needPath();
      const want = 'value' in op ? (op.value ?? null) : undefined;
      let have: Json | undefined;
      if (p === '') have = root;
      else {
        const { parent, key } = locate(root, p, `test operation does not apply: is missing path: ${p}: missing value`);
        if (Array.isArray(parent)) have = parent[arrayIndex(parent, key, false, `error in test for path: '${p}'`)];
        else have = Object.prototype.hasOwnProperty.call(parent, key) ? parent[key] : undefined;
      }
      // A missing member equals an explicit null, as in upstream's library.
      if (jsonEqual(have ?? null, want === undefined ? undefined : want)) return root;
      throw patchFailure(`testing value ${p} failed: test failed`);
    }
    default:
      throw patchFailure(`Unexpected kind: ${kind}`);
  }
}

type Container = Json[] | { [key: string]: Json };

/** The container that holds the last token of `pointer`, and that token. */
function locate(root: Json, pointer: string, missing: string): { parent: Container; key: string } {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) throw patchFailure(missing);
  let cur: Json = root;
  for (const t of tokens.slice(0, -1)) {
    let next: Json | undefined;
    if (Array.isArray(cur)) {
      const i = parseIndex(t);
      next = i !== undefined && i >= -cur.length && i < cur.length ? cur[i < 0 ? i + cur.length : i] : undefined;
    } else if (isJsonObject(cur)) {
      next = Object.prototype.hasOwnProperty.call(cur, t) ? cur[t] : undefined;
    }
    if (next === undefined || next === null || typeof next !== 'object') throw patchFailure(missing);
    cur = next;
  }
  if (cur === null || typeof cur !== 'object') throw patchFailure(missing);
  return { parent: cur, key: tokens[tokens.length - 1]! };
}

function parseIndex(token: string): number | undefined {
  return /^-?(0|[1-9][0-9]*)$/.test(token) ? Number(token) : undefined;
}

function arrayIndex(arr: Json[], token: string, forAdd: boolean, context: string): number {
  const i = parseIndex(token);
  if (i === undefined) throw patchFailure(`${context}: strconv.Atoi: parsing ${JSON.stringify(token)}: invalid syntax`);
  const size = forAdd ? arr.length + 1 : arr.length;
  if (i >= size || i < -size) throw patchFailure(`${context}: Unable to access invalid index: ${i}: invalid index referenced`);
  return i < 0 ? i + size : i;
}

function get(root: Json, pointer: string, missing: string): Json {
  if (pointer === '') return root;
  const { parent, key } = locate(root, pointer, missing);
  if (Array.isArray(parent)) return parent[arrayIndex(parent, key, false, `error in copy for from: '${pointer}'`)]!;
  if (!Object.prototype.hasOwnProperty.call(parent, key)) throw patchFailure(missing);
  return parent[key]!;
}

function add(root: Json, pointer: string, value: Json, missing: string): Json {
  // Upstream's library cannot address the root for add (nor move/copy into it).
  if (pointer === '') throw patchFailure(missing);
  const { parent, key } = locate(root, pointer, missing);
  if (Array.isArray(parent)) {
    if (key === '-') parent.push(value);
    else {
      const i = parseIndex(key);
      if (i === undefined) throw patchFailure(`error in add for path: '${pointer}': value was not a proper array index: '${key}': strconv.Atoi: parsing ${JSON.stringify(key)}: invalid syntax`);
      parent.splice(arrayIndex(parent, key, true, `error in add for path: '${pointer}'`), 0, value);
    }
  } else {
    parent[key] = value;
  }
  return root;
}

function remove(root: Json, pointer: string, missing: string): { doc: Json; value: Json } {
  if (pointer === '') throw patchFailure(missing);
  const { parent, key } = locate(root, pointer, missing);
  if (Array.isArray(parent)) {
    const i = arrayIndex(parent, key, false, `error in remove for path: '${pointer}'`);
    const [value] = parent.splice(i, 1);
    return { doc: root, value: value! };
  }
  if (!Object.prototype.hasOwnProperty.call(parent, key)) {
    throw patchFailure(`error in remove for path: '${pointer}': Unable to remove nonexistent key: ${key}: missing value`);
  }
  const value = parent[key]!;
  delete parent[key];
  return { doc: root, value };
}
