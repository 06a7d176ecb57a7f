// Kubernetes `Status` errors. Every failure the API reports to a client is a StatusError, so the
// HTTP layer has one way to render it (a `meta.k8s.io/v1 Status` body with the same code) and
// validation can collect all field causes before failing once, as upstream does.
import type { Status, StatusCause } from 'kubernetes-types/meta/v1.js';

export type StatusReason =
  | 'BadRequest' | 'Unauthorized' | 'Forbidden' | 'NotFound' | 'AlreadyExists' | 'Conflict'
  | 'Gone' | 'Invalid' | 'Expired' | 'MethodNotAllowed' | 'NotAcceptable' | 'UnsupportedMediaType'
  | 'RequestEntityTooLarge' | 'TooManyRequests' | 'Timeout' | 'ServerTimeout' | 'InternalError'
  | 'ServiceUnavailable';

/** Field error types as upstream's field.ErrorType renders them in `details.causes[].reason`. */
export type CauseType =
  | 'FieldValueRequired' | 'FieldValueInvalid' | 'FieldValueNotSupported' | 'FieldValueDuplicate'
  | 'FieldValueForbidden' | 'FieldValueTooLong' | 'FieldValueTooMany' | 'FieldValueTypeInvalid'
  | 'FieldValueNotFound' | 'InternalError';

export interface Details { name?: string; group?: string; kind?: string; uid?: string; causes?: StatusCause[]; retryAfterSeconds?: number }

export class StatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: StatusReason,
    message: string,
    readonly details?: Details,
  ) {
    super(message);
    this.name = 'StatusError';
  }

  toStatus(): Status {
    const status: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: this.message, reason: this.reason, code: this.code };
    if (this.details) status.details = this.details;
    return status;
  }
}

/** `pods "x"` or `deployments.apps "x"`: upstream's qualified resource in messages. */
export function qualifiedResource(resource: string, group: string): string {
  return group ? `${resource}.${group}` : resource;
}

export const errors = {
  badRequest: (message: string) => new StatusError(400, 'BadRequest', message),
  unauthorized: (message = 'Unauthorized') => new StatusError(401, 'Unauthorized', message),
  forbidden: (message: string) => new StatusError(403, 'Forbidden', message),
  notFound: (resource: string, group: string, name: string) =>
    new StatusError(404, 'NotFound', `${qualifiedResource(resource, group)} "${name}" not found`, { name, group, kind: resource }),
  notFoundPath: (path: string) => new StatusError(404, 'NotFound', `the server could not find the requested resource`, { causes: [{ reason: 'UnexpectedServerResponse', message: `404 page not found: ${path}` }] }),
  alreadyExists: (resource: string, group: string, name: string) =>
    new StatusError(409, 'AlreadyExists', `${qualifiedResource(resource, group)} "${name}" already exists`, { name, group, kind: resource }),
  conflict: (resource: string, group: string, name: string, why: string) =>
    new StatusError(409, 'Conflict', `Operation cannot be fulfilled on ${qualifiedResource(resource, group)} "${name}": ${why}`, { name, group, kind: resource }),
  gone: (message: string) => new StatusError(410, 'Expired', message),
  methodNotAllowed: (message: string) => new StatusError(405, 'MethodNotAllowed', message),
  notAcceptable: (message: string) => new StatusError(406, 'NotAcceptable', message),
  unsupportedMediaType: (contentType: string) => new StatusError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml (got "${contentType}")`),
  tooLarge: (message = 'the request body is too large') => new StatusError(413, 'RequestEntityTooLarge', message),
  internal: (message: string) => new StatusError(500, 'InternalError', `Internal error occurred: ${message}`),
  unavailable: (message: string) => new StatusError(503, 'ServiceUnavailable', message),
  /** 422 with every field cause; `kind` is the Kind (e.g. `Pod`), as upstream's NewInvalid uses. */
  invalid: (kind: string, group: string, name: string, causes: FieldError[]) => {
    const list = causes.map(c => c.message()).join(', ');
    const shown = causes.length > 1 ? `[${list}]` : list;
    return new StatusError(422, 'Invalid', `${kind}${group ? '.' + group : ''} "${name}" is invalid: ${shown}`, {
      name, group, kind, causes: causes.map(c => ({ reason: c.type, message: c.message(), field: c.field })),
    });
  },
};

/** One field error, as upstream's field.Error: a path, a type, the bad value and a detail. */
export class FieldError {
  constructor(readonly type: CauseType, readonly field: string, readonly value: unknown, readonly detail = '') {}

  message(): string {
    const f = this.field;
    switch (this.type) {
      case 'FieldValueRequired': return `${f}: Required value${this.detail ? ': ' + this.detail : ''}`;
      case 'FieldValueForbidden': return `${f}: Forbidden${this.detail ? ': ' + this.detail : ''}`;
      case 'FieldValueNotFound': return `${f}: Not found: ${render(this.value)}`;
      case 'FieldValueDuplicate': return `${f}: Duplicate value: ${render(this.value)}`;
      case 'FieldValueNotSupported': return `${f}: Unsupported value: ${render(this.value)}${this.detail ? ': ' + this.detail : ''}`;
      case 'FieldValueTooLong': return `${f}: Too long: ${this.detail}`;
      case 'FieldValueTooMany': return `${f}: Too many: ${render(this.value)}: ${this.detail}`;
      case 'FieldValueTypeInvalid': return `${f}: Invalid value: ${render(this.value)}: ${this.detail}`;
      case 'InternalError': return `${f}: Internal error: ${this.detail}`;
      default: return `${f}: Invalid value: ${render(this.value)}${this.detail ? ': ' + this.detail : ''}`;
    }
  }
}

function render(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined) return 'null';
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

/** Builders named as upstream's field package: field.Required(path, detail) … */
export const field = {
  required: (path: string, detail = '') => new FieldError('FieldValueRequired', path, '', detail),
  invalid: (path: string, value: unknown, detail: string) => new FieldError('FieldValueInvalid', path, value, detail),
  notSupported: (path: string, value: unknown, valid: readonly string[]) =>
    new FieldError('FieldValueNotSupported', path, value, `supported values: ${valid.map(v => JSON.stringify(v)).join(', ')}`),
  duplicate: (path: string, value: unknown) => new FieldError('FieldValueDuplicate', path, value),
  forbidden: (path: string, detail: string) => new FieldError('FieldValueForbidden', path, '', detail),
  tooLong: (path: string, value: unknown, max: number) => new FieldError('FieldValueTooLong', path, value, `may not be more than ${max} bytes`),
  tooMany: (path: string, actual: number, max: number) => new FieldError('FieldValueTooMany', path, actual, `must have at most ${max} items`),
  typeInvalid: (path: string, value: unknown, detail: string) => new FieldError('FieldValueTypeInvalid', path, value, detail),
  notFound: (path: string, value: unknown) => new FieldError('FieldValueNotFound', path, value),
};

/** Field paths built the way upstream prints them: `spec.containers[0].ports[1].containerPort`, `metadata.labels[app]`. */
export class FieldPath {
  private constructor(private readonly text: string) {}
  static root(name: string): FieldPath { return new FieldPath(name); }
  child(name: string): FieldPath { return new FieldPath(this.text ? `${this.text}.${name}` : name); }
  index(i: number): FieldPath { return new FieldPath(`${this.text}[${i}]`); }
  key(k: string): FieldPath { return new FieldPath(`${this.text}[${k}]`); }
  toString(): string { return this.text; }
}
