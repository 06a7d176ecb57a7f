// core/v1 Events: upstream's legacy validation (what core/v1 requests get: the namespace rules
// and, for new-style events with eventTime, the reporting fields), field selectors on the
// involved object, and `kubectl get events` (LAST SEEN TYPE REASON OBJECT MESSAGE, whose Name
// column is last and wide-only, as upstream).
import type { Event } from 'kubernetes-types/core/v1.js';
import { field, FieldPath, type FieldError } from '../../../api/errors.js';
import type { KubeObject } from '../../../api/object.js';
import { validateObjectMeta, validateObjectMetaUpdate } from '../../../api/validation/meta.js';
import { isDNS1123Subdomain, isQualifiedName, nameIsPathSegment } from '../../../api/validation/names.js';
import { column, NAME_DESCRIPTION, translateTimestampSince } from '../printers.js';
import type { ResourceDef } from '../types.js';
import { ALL_VERBS, as } from './common.js';

const REPORTING_INSTANCE_LIMIT = 128;
const ACTION_LIMIT = 128;
const REASON_LIMIT = 128;
const NOTE_LIMIT = 1024;

/** Upstream's legacyValidateEvent for core/v1 requests. */
export function validateEventFields(ev: Event): FieldError[] {
  const errs: FieldError[] = [];
  const ns = ev.metadata?.namespace ?? '';
  const involvedNs = ev.involvedObject?.namespace ?? '';
  const nsPath = 'involvedObject.namespace';
  if (!ev.eventTime) {
    if (!involvedNs) {
      if (ns !== '' && ns !== 'default') errs.push(field.invalid(nsPath, involvedNs, 'does not match event.namespace'));
    } else if (ns !== involvedNs) {
      errs.push(field.invalid(nsPath, involvedNs, 'does not match event.namespace'));
    }
  } else {
    if (!involvedNs && ns !== 'default' && ns !== 'kube-system') errs.push(field.invalid(nsPath, involvedNs, 'does not match event.namespace'));
    // upstream names these paths after the internal field (reportingController)
    const rc = ev.reportingComponent ?? '';
    if (!rc) errs.push(field.required('reportingController', ''));
    for (const m of isQualifiedName(rc)) errs.push(field.invalid('reportingController', rc, m));
    const ri = ev.reportingInstance ?? '';
    if (!ri) errs.push(field.required('reportingInstance', ''));
    if (ri.length > REPORTING_INSTANCE_LIMIT) errs.push(field.invalid('reportingInstance', '', `can have at most ${REPORTING_INSTANCE_LIMIT} characters`));
    const action = ev.action ?? '';
    if (!action) errs.push(field.required('action', ''));
    if (action.length > ACTION_LIMIT) errs.push(field.invalid('action', '', `can have at most ${ACTION_LIMIT} characters`));
    const reason = ev.reason ?? '';
    if (!reason) errs.push(field.required('reason', ''));
    if (reason.length > REASON_LIMIT) errs.push(field.invalid('reason', '', `can have at most ${REASON_LIMIT} characters`));
    if ((ev.message ?? '').length > NOTE_LIMIT) errs.push(field.invalid('message', '', `can have at most ${NOTE_LIMIT} characters`));
  }
  for (const m of isDNS1123Subdomain(ns)) errs.push(field.invalid('namespace', ns, m));
  return errs;
}

function validateEvent(obj: KubeObject): FieldError[] {
  const ev = as<Event>(obj);
  // Names only need to be usable in a path: clients name events `<object>.<hex>`.
  return [...validateObjectMeta(ev.metadata, true, FieldPath.root('metadata'), nameIsPathSegment), ...validateEventFields(ev)];
}

function firstNonEmpty(...xs: (string | undefined)[]): string {
  return xs.find(x => !!x) ?? '';
}

export function formatEventSource(ev: Event): string {
  const component = firstNonEmpty(ev.source?.component, ev.reportingComponent);
  const instance = firstNonEmpty(ev.source?.host, ev.reportingInstance);
  if (!component) return '';
  return instance ? `${component}, ${instance}` : component;
}

export function eventRow(ev: Event, now: Date): unknown[] {
  let first = translateTimestampSince(ev.firstTimestamp, now);
  if (!ev.firstTimestamp) first = translateTimestampSince(ev.eventTime, now);
  let last = translateTimestampSince(ev.lastTimestamp, now);
  if (!ev.lastTimestamp) last = first;
  let count = ev.count ?? 0;
  if (ev.series) {
    last = translateTimestampSince(ev.series.lastObservedTime, now);
    count = ev.series.count ?? 0;
  } else if (count === 0) {
    count = 1;
  }
  const kind = (ev.involvedObject?.kind ?? '').toLowerCase();
  const target = ev.involvedObject?.name ? `${kind}/${ev.involvedObject.name}` : kind;
  return [
    last, ev.type ?? '', ev.reason ?? '', target, ev.involvedObject?.fieldPath ?? '', formatEventSource(ev),
    (ev.message ?? '').trim(), first, count, ev.metadata?.name ?? '',
  ];
}

export const events: ResourceDef = {
  group: '',
  version: 'v1',
  kind: 'Event',
  listKind: 'EventList',
  resource: 'events',
  singularName: 'event',
  shortNames: ['ev'],
  namespaced: true,
  verbs: ALL_VERBS,
  subresources: [],
  schemaName: 'io.k8s.api.core.v1.Event',
  hasStatusSubresource: false,
  tracksGeneration: false,

  validate: validateEvent,
  validateUpdate(obj, old) {
    const ev = as<Event>(obj);
    return [...validateObjectMetaUpdate(ev.metadata, as<Event>(old).metadata), ...validateEventFields(ev)];
  },

  tableColumns: [
    column('Last Seen', 'string', 'The last time at which the event was observed'),
    column('Type', 'string', 'Type of this event (Normal, Warning), new types could be added in the future'),
    column('Reason', 'string', 'This should be a short, machine understandable string that gives the reason for the transition into the object\'s current status.'),
    column('Object', 'string', 'The object that this event is about.'),
    column('Subobject', 'string', 'The subobject that this event is about.', 1),
    column('Source', 'string', 'The component reporting this event. Should be a short machine understandable string.', 1),
    column('Message', 'string', 'A human-readable description of the status of this operation.'),
    column('First Seen', 'string', 'The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)', 1),
    column('Count', 'string', 'The number of times this event has occurred.', 1),
    column('Name', 'string', NAME_DESCRIPTION, 1, 'name'),
  ],
  tableRow: (obj, now) => eventRow(as<Event>(obj), now),
  fieldSelectorAttributes(obj) {
    const ev = as<Event>(obj);
    const io = ev.involvedObject ?? {};
    return {
      'involvedObject.kind': io.kind ?? '',
      'involvedObject.namespace': io.namespace ?? '',
      'involvedObject.name': io.name ?? '',
      'involvedObject.uid': io.uid ?? '',
      'involvedObject.apiVersion': io.apiVersion ?? '',
      'involvedObject.resourceVersion': io.resourceVersion ?? '',
      'involvedObject.fieldPath': io.fieldPath ?? '',
      reason: ev.reason ?? '',
      reportingComponent: ev.reportingComponent ?? '',
      source: firstNonEmpty(ev.source?.component, ev.reportingComponent),
      type: ev.type ?? '',
    };
  },
};
