// Parsers for ctr's text outputs, kept pure so each format is pinned by a unit test. ctr 1.6 has no
// JSON output for `tasks ls` or `images ls`; `containers info` prints JSON and `events` prints one
// JSON object per line after a timestamp, namespace and topic.
import type { ContainerInfo, RuntimeEvent, TaskInfo, TaskStatus } from './runtime.js';

const statuses = new Set<TaskStatus>(['RUNNING', 'STOPPED', 'CREATED', 'PAUSED']);

/** `ctr tasks ls`: a header then `ID PID STATUS` rows separated by runs of spaces. */
export function parseTaskList(text: string): TaskInfo[] {
  const out: TaskInfo[] = [];
  for (const line of text.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 3 || cols[0] === 'TASK') continue;
    const [id, pid, status] = cols as [string, string, string];
    if (!/^\d+$/.test(pid)) continue;
    out.push({ id, pid: Number(pid), status: statuses.has(status as TaskStatus) ? status as TaskStatus : 'UNKNOWN' });
  }
  return out;
}

/** One identifier per line (`ctr containers ls -q`, `ctr images ls -q`). */
export function parseQuietList(text: string): string[] {
  return text.split('\n').map(s => s.trim()).filter(Boolean);
}

/** `ctr containers info ID`: JSON with ID, Image, Labels, CreatedAt. */
export function parseContainerInfo(text: string): ContainerInfo | undefined {
  let raw: { ID?: string; Image?: string; Labels?: Record<string, string> | null; CreatedAt?: string };
  try { raw = JSON.parse(text) as typeof raw; } catch { return undefined; }
  if (!raw.ID) return undefined;
  return { id: raw.ID, image: raw.Image ?? '', labels: raw.Labels ?? {}, createdAt: raw.CreatedAt ?? '' };
}

/**
 * `ctr tasks delete` exits 0 for a task that exited non-zero and says so only in a warning:
 * `task X exit with non-zero exit code N`. No warning means exit code 0.
 */
export function parseDeleteExitCode(stderr: string): number {
  const m = /exit with non-zero exit code (\d+)/.exec(stderr);
  return m ? Number(m[1]) : 0;
}

/** A line of `ctr events`: `<date> <time> <zone> UTC <namespace> <topic> <json>`. */
export function parseEventLine(line: string, namespace: string): RuntimeEvent | undefined {
  const m = /^\S+ \S+ \S+ \S+ (\S+) (\/\S+) (\{.*\})\s*$/.exec(line);
  if (!m || m[1] !== namespace) return undefined;
  let body: { container_id?: string; id?: string; pid?: number; exit_status?: number; exited_at?: string };
  try { body = JSON.parse(m[3]!) as typeof body; } catch { return undefined; }
  const id = body.container_id ?? body.id;
  if (!id) return undefined;
  switch (m[2]) {
    case '/tasks/exit':
      // An exec'd process exiting has id != container_id; only the init process ends the task.
      if (body.id !== undefined && body.container_id !== undefined && body.id !== body.container_id) return undefined;
      return { type: 'exit', id, pid: body.pid ?? 0, exitCode: body.exit_status ?? 0, exitedAt: body.exited_at ?? new Date().toISOString() };
    case '/tasks/start': return { type: 'start', id, pid: body.pid ?? 0 };
    case '/tasks/oom': return { type: 'oom', id };
    case '/containers/delete': return { type: 'delete', id };
    default: return undefined;
  }
}

/** The OCI message in a failed `ctr run`, without ctr's prefix: what upstream shows as the reason's message. */
export function runFailureMessage(stderr: string): string {
  const line = stderr.split('\n').map(s => s.trim()).filter(Boolean).pop() ?? '';
  return line.replace(/^ctr: /, '');
}
