// The one place k8ts runs other programs (ctr, ip, CNI plugins): an `Exec` seam so the code above
// it can be tested with a recording fake. `run` never throws for a non-zero exit: callers decide
// what an exit code means (ctr reports a task's exit code as a warning, CNI plugins print a JSON
// error on stdout), so the result always carries the code and both streams.
import { execa } from 'execa';

export interface ExecOptions {
  /** Standard input: a string, or chunks handed to the program as it reads them (produced meanwhile). */
  input?: string | Iterable<string> | AsyncIterable<string>;
  env?: Record<string, string>;
  /** Throw the program's stdout away unread (the result's stdout is then empty). */
  discardStdout?: boolean;
  /** Kill the program after this long; the result then has exitCode -1 and timedOut. */
  timeoutMs?: number;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut?: boolean;
}

export interface Exec {
  run(file: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
}

/** Runs programs for real (execa, no shell). A program that cannot be started gives exit code 127. */
export const systemExec: Exec = {
  async run(file, args, opts = {}) {
    const r = await execa(file, [...args], {
      reject: false,
      stripFinalNewline: false,
      ...(opts.input === undefined ? { stdin: 'ignore' as const } : typeof opts.input === 'string' ? { input: opts.input } : { stdin: opts.input }),
      ...(opts.discardStdout ? { stdout: 'ignore' as const } : {}),
      ...(opts.env ? { env: opts.env, extendEnv: false } : {}),
      ...(opts.timeoutMs !== undefined ? { timeout: opts.timeoutMs } : {}),
    });
    const stdout = typeof r.stdout === 'string' ? r.stdout : '';
    const stderr = typeof r.stderr === 'string' ? r.stderr : '';
    if (r.timedOut) return { exitCode: -1, stdout, stderr, timedOut: true };
    if (r.exitCode === undefined) return { exitCode: 127, stdout, stderr: stderr || (r.message ?? `could not run "${file}"`) };
    return { exitCode: r.exitCode, stdout, stderr };
  },
};

async function collect(chunks: Iterable<string> | AsyncIterable<string>): Promise<string> {
  let s = '';
  for await (const c of chunks) s += c;
  return s;
}

/** Records every call and answers from a handler: the fake for unit tests. */
export class FakeExec implements Exec {
  readonly calls: { file: string; args: string[]; input?: string; env?: Record<string, string> }[] = [];
  constructor(private readonly handler: (file: string, args: readonly string[], opts: ExecOptions) => ExecResult | Promise<ExecResult> = () => ({ exitCode: 0, stdout: '', stderr: '' })) {}
  async run(file: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const input = typeof opts.input === 'string' || opts.input === undefined ? opts.input : await collect(opts.input);
    this.calls.push({ file, args: [...args], ...(input !== undefined ? { input } : {}), ...(opts.env ? { env: opts.env } : {}) });
    return this.handler(file, args, opts);
  }
}
