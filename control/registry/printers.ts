// Helpers shared by every resource's `kubectl get` columns, following upstream's printers
// (pkg/printers/internalversion): the NAME and AGE columns, HumanDuration for ages and
// durations, the container cells of workload tables, and the small joins (`<none>`,
// `a,b,c + 2 more...`) the columns use.
import type { Container } from 'kubernetes-types/core/v1.js';
import { labelsString } from '../../api/selectors.js';
import type { TableColumnDefinition } from './types.js';

export const NAME_DESCRIPTION = 'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names';
export const AGE_DESCRIPTION = 'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata';

/** A column definition; `priority` 1 means "only with -o wide". */
export function column(name: string, type: TableColumnDefinition['type'], description: string, priority = 0, format = ''): TableColumnDefinition {
  return { name, type, format, description, priority };
}

export const nameColumn = (): TableColumnDefinition => column('Name', 'string', NAME_DESCRIPTION, 0, 'name');
export const ageColumn = (): TableColumnDefinition => column('Age', 'string', AGE_DESCRIPTION);

/**
 * Upstream's duration.HumanDuration: exact below two minutes, then ever coarser
 * (`5s`, `3m2s`, `15m`, `5h3m`, `10h`, `2d3h`, `30d`, `2y10d`, `9y`).
 */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  const days = Math.trunc(hours / 24);
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${days}d` : `${days}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${days}d`;
  const years = Math.trunc(days / 365);
  if (hours < 24 * 365 * 8) {
    const d = days % 365;
    return d === 0 ? `${years}y` : `${years}y${d}d`;
  }
  return `${years}y`;
}

/** Upstream's ShortHumanDuration (used by e.g. the events printer's "LAST SEEN" in some places). */
export function shortHumanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 24) return `${hours}h`;
  if (hours < 24 * 365) return `${Math.trunc(hours / 24)}d`;
  return `${Math.trunc(hours / 24 / 365)}y`;
}

/** Age of a timestamp as `kubectl get` prints it; `<unknown>` when unset or unparsable. */
export function translateTimestampSince(timestamp: string | Date | undefined | null, now: Date): string {
  if (timestamp === undefined || timestamp === null || timestamp === '') return '<unknown>';
  const t = timestamp instanceof Date ? timestamp.getTime() : Date.parse(timestamp);
  if (Number.isNaN(t)) return '<unknown>';
  return humanDuration(now.getTime() - t);
}

/** Time until a timestamp (e.g. lease renewals); `<unknown>` when unset. */
export function translateTimestampUntil(timestamp: string | Date | undefined | null, now: Date): string {
  if (timestamp === undefined || timestamp === null || timestamp === '') return '<unknown>';
  const t = timestamp instanceof Date ? timestamp.getTime() : Date.parse(timestamp);
  if (Number.isNaN(t)) return '<unknown>';
  return humanDuration(t - now.getTime());
}

/** `key=value,key=value` sorted by key, or `<none>` (labels.FormatLabels / selector strings). */
export function formatLabels(labels: Record<string, string> | undefined | null): string {
  return labelsString(labels) || '<none>';
}

export const CONTAINERS_DESCRIPTION = 'Names of each container in the template.';
export const IMAGES_DESCRIPTION = 'Images referenced by each container in the template.';

/** Upstream's layoutContainerCells: names and images, comma-joined. */
export function containerCells(containers: readonly Container[] | undefined): [string, string] {
  const list = containers ?? [];
  return [list.map(c => c.name ?? '').join(','), list.map(c => c.image ?? '').join(',')];
}

/** `a,b,c`, or `a,b,c + N more...` past `max` items, or `<none>` (upstream's listWithMoreString). */
export function listWithMore(items: readonly string[], max = 3): string {
  if (items.length === 0) return '<none>';
  const shown = items.slice(0, max).join(',');
  return items.length > max ? `${shown} + ${items.length - max} more...` : shown;
}

/** Creation timestamp of any object, for the AGE cell. */
export function ageOf(obj: { metadata?: { creationTimestamp?: string | Date } | undefined }, now: Date): string {
  return translateTimestampSince(obj.metadata?.creationTimestamp, now);
}

/** `<none>` for an empty string, as many columns show. */
export const orNone = (s: string | undefined | null): string => (s ? s : '<none>');
