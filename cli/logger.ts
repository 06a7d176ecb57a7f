// Structured logs through pino: JSON lines for machines (`--log-format json`), or a compact
// `time LEVEL message key=value…` line for people reading a terminal (the default). One logger per
// process; components take children with a `component` field.
import { pino, type Logger } from 'pino';

const levelNames: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

function renderValue(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) ? JSON.stringify(v) : v;
  if (v instanceof Object && 'message' in v && 'stack' in v) return JSON.stringify((v as Error).message);
  return JSON.stringify(v);
}

/** A pino destination that prints one readable line per record. */
function textDestination(out: NodeJS.WritableStream) {
  return {
    write(line: string) {
      let rec: Record<string, unknown>;
      try { rec = JSON.parse(line) as Record<string, unknown>; } catch { out.write(line); return; }
      const { time, level, msg, pid: _pid, hostname: _host, ...rest } = rec;
      const ts = new Date(Number(time)).toISOString();
      const fields = Object.entries(rest).map(([k, v]) => `${k}=${k === 'err' && v && typeof v === 'object' ? renderValue((v as { message?: string }).message ?? v) : renderValue(v)}`).join(' ');
      out.write(`${ts} ${levelNames[Number(level)] ?? level} ${String(msg ?? '')}${fields ? ' ' + fields : ''}\n`);
    },
  };
}

export function createLogger(format: 'json' | 'text', level = process.env.K8TS_LOG_LEVEL ?? 'info', out: NodeJS.WritableStream = process.stderr): Logger {
  const options = { level, base: { pid: process.pid } };
  return format === 'json' ? pino(options, pino.destination({ fd: out === process.stdout ? 1 : 2, sync: true })) : pino(options, textDestination(out));
}
