// Reading container logs for the kubelet API: CRI log lines (written by agent/logs-writer.ts) are
// parsed, filtered (sinceSeconds/sinceTime, tailLines), rendered (timestamps) and cut (limitBytes);
// `follow` keeps reading the file as it grows until the container stops or the caller leaves.
//
// Design notes: `parseCriLine`/`renderLogs` are pure; `streamLog` does the file I/O. A file is
// read whole for the first answer (attempt logs are small: rotation is not implemented yet), then
// followed by polling its size every 100 ms (fs.watch misses appends on some filesystems and adds
// a watcher per follower). A line that is not CRI (a file containerd wrote raw, on a host without
// the writer) is passed through as stdout text.
import { open, stat } from 'node:fs/promises';

export interface CriLine {
  /** As written: RFC 3339 with nanoseconds. */
  time: string;
  stream: 'stdout' | 'stderr';
  partial: boolean;
  text: string;
}

export interface LogOptions {
  follow: boolean;
  timestamps: boolean;
  tailLines?: number;
  /** Lines before this time (ms since the epoch) are skipped. */
  sinceMs?: number;
  limitBytes?: number;
}

const criRe = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) (stdout|stderr) ([FP]) ?(.*)$/s;

export function parseCriLine(line: string): CriLine {
  const m = criRe.exec(line);
  if (!m) return { time: '', stream: 'stdout', partial: false, text: line };
  return { time: m[1]!, stream: m[2] as 'stdout' | 'stderr', partial: m[3] === 'P', text: m[4]! };
}

/** Milliseconds since the epoch of a CRI timestamp (sub-millisecond digits dropped). */
export function criTimeMs(time: string): number {
  return Date.parse(time.replace(/(\.\d{3})\d+/, '$1'));
}

/** RFC3339Nano as upstream prints it with --timestamps: trailing zeros of the fraction trimmed. */
export function rfc3339Nano(time: string): string {
  return time.replace(/\.(\d*?)0+Z$/, (_m, d: string) => (d ? `.${d}Z` : 'Z'));
}

export function parseLogOptions(q: URLSearchParams, now: number): LogOptions & { previous: boolean } {
  const num = (k: string): number | undefined => {
    const v = q.get(k);
    if (v === null || v === '') return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`invalid ${k} "${v}": expected a non-negative integer`);
    return n;
  };
  const bool = (k: string) => q.get(k) === 'true' || q.get(k) === '1';
  const tail = num('tailLines');
  const since = num('sinceSeconds');
  const sinceTime = q.get('sinceTime');
  const limit = num('limitBytes');
  return {
    follow: bool('follow'), timestamps: bool('timestamps'), previous: bool('previous'),
    ...(tail !== undefined ? { tailLines: tail } : {}),
    ...(since !== undefined ? { sinceMs: now - since * 1000 } : sinceTime ? { sinceMs: Date.parse(sinceTime) } : {}),
    ...(limit !== undefined ? { limitBytes: limit } : {}),
  };
}

function render(l: CriLine, timestamps: boolean): string {
  const text = l.partial ? l.text : `${l.text}\n`;
  return timestamps && l.time ? `${rfc3339Nano(l.time)} ${text}` : text;
}

/** The text for complete lines (no trailing partial text), after since and tail. */
export function renderLogs(lines: readonly string[], o: Pick<LogOptions, 'timestamps' | 'tailLines' | 'sinceMs'>): string {
  let parsed = lines.filter(l => l !== '').map(parseCriLine);
  if (o.sinceMs !== undefined) parsed = parsed.filter(l => !l.time || criTimeMs(l.time) >= o.sinceMs!);
  if (o.tailLines !== undefined) {
    // Count whole lines: a line is its partial records plus the final one.
    let whole = 0;
    let i = parsed.length;
    while (i > 0) {
      if (!parsed[i - 1]!.partial) {
        if (whole === o.tailLines) break;
        whole++;
      }
      i--;
    }
    parsed = parsed.slice(i);
  }
  return parsed.map(l => render(l, o.timestamps)).join('');
}

export interface LogSink {
  write(chunk: string): boolean | void;
  readonly closed: boolean;
}

/**
 * Writes the log at `path` to `out`; with `follow`, keeps writing new lines until `running()`
 * turns false (then drains the file) or `signal` aborts.
 */
export async function streamLog(path: string, o: LogOptions, out: LogSink, running: () => boolean, signal: AbortSignal): Promise<void> {
  let budget = o.limitBytes ?? Infinity;
  const emit = (s: string): boolean => {
    if (!s || out.closed) return !out.closed;
    const b = Buffer.from(s);
    if (b.length >= budget) {
      out.write(b.subarray(0, budget).toString());
      budget = 0;
      return false;
    }
    budget -= b.length;
    out.write(s);
    return true;
  };
  const fh = await open(path, 'r').catch(() => undefined);
  if (!fh) return;
  try {
    let pos = 0;
    let rest = '';
    const readMore = async (): Promise<string[]> => {
      const size = (await fh.stat()).size;
      if (size <= pos) return [];
      const buf = Buffer.alloc(size - pos);
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      pos += bytesRead;
      const text = rest + buf.subarray(0, bytesRead).toString('utf8');
      const nl = text.lastIndexOf('\n');
      rest = text.slice(nl + 1);
      return nl < 0 ? [] : text.slice(0, nl).split('\n');
    };
    if (!emit(renderLogs(await readMore(), o))) return;
    if (!o.follow) return;
    const follow = { timestamps: o.timestamps, ...(o.sinceMs !== undefined ? { sinceMs: o.sinceMs } : {}) };
    while (!signal.aborted && !out.closed) {
      const wasRunning = running();
      await new Promise(r => setTimeout(r, 100));
      if (!emit(renderLogs(await readMore(), follow))) return;
      if (!wasRunning) return;
    }
  } finally {
    await fh.close();
  }
}

/** True when the file exists. */
export async function logExists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}
