// The config file of `k8ts server` and `k8ts agent` (/etc/k8ts/config.yaml, or `--config FILE`,
// or $K8TS_CONFIG_FILE), as k3s' config.yaml: a YAML mapping whose keys are the command's long
// flag names without the dashes, so every flag is settable there and nothing has two spellings.
//
//   token-file: /etc/k8ts/token
//   node-labels: [zone=a, disk=ssd]     # a list is joined into one comma-separated value
//   disable-agent: true
//
// Design notes: the file is turned into flags and handed to the command's own flag parser, so
// validation, defaults and error messages stay in one place per command; a flag given on the
// command line replaces the file's value for that flag (k3s' rule, for lists too). Pure apart from
// `loadConfigArgs`, which reads the file.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

export const defaultConfigFile = '/etc/k8ts/config.yaml';

export class ConfigFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigFileError';
  }
}

type Scalar = string | number | boolean;
export type ConfigValues = Record<string, Scalar | Scalar[]>;

/** Flags whose list values are joined with something other than a comma. */
const listSeparators: Readonly<Record<string, string>> = { 'cni-bin-dir': ':' };

/** Parses and checks the file's text: a mapping of flag names to scalars or lists of scalars. */
export function parseConfigFile(text: string, file: string): ConfigValues {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigFileError(`config file "${file}" is not valid YAML: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigFileError(`config file "${file}" must be a mapping of flag names to values`);
  const out: ConfigValues = {};
  const isScalar = (v: unknown): v is Scalar => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    if (!/^[a-z][a-z0-9-]*$/.test(key)) throw new ConfigFileError(`config file "${file}": "${key}" is not a flag name (write it without dashes, e.g. data-dir)`);
    if (key === 'config') throw new ConfigFileError(`config file "${file}": "config" cannot be set in a config file`);
    if (isScalar(value)) out[key] = value;
    else if (Array.isArray(value) && value.every(isScalar)) out[key] = value;
    else throw new ConfigFileError(`config file "${file}": the value of "${key}" must be a string, number, boolean or a list of them`);
  }
  return out;
}

/** The file's values as `--flag=value` arguments (booleans as `--flag` / `--flag=false`). */
export function configToArgv(values: ConfigValues): string[] {
  const argv: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    if (value === true) argv.push(`--${key}`);
    else if (Array.isArray(value)) {
      if (value.length > 0) argv.push(`--${key}=${value.map(String).join(listSeparators[key] ?? ',')}`);
    } else argv.push(`--${key}=${String(value)}`);
  }
  return argv;
}

/** The inverse, for `k8ts install`: `--flag value`, `--flag=value`, `--bool` into values. */
export function argvToConfig(argv: readonly string[], boolFlags: ReadonlySet<string> = new Set()): ConfigValues {
  const out: ConfigValues = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--') || arg.length === 2) throw new ConfigFileError(`unexpected argument "${arg}": only --flag or --flag=value can go into the config file`);
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    let value: Scalar;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (boolFlags.has(name) || argv[i + 1] === undefined || argv[i + 1]!.startsWith('--')) value = true;
    else value = argv[++i]!;
    if (value === 'true') value = true;
    else if (value === 'false') value = false;
    const have = out[name];
    // A repeated flag (--tls-san a --tls-san b) becomes a list.
    out[name] = have === undefined ? value : [...(Array.isArray(have) ? have : [have]), value];
  }
  return out;
}

/** The flag names present in an argument list (`--name`, `--name=v`, `-h`). */
function flagNames(argv: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const arg of argv) {
    if (arg.startsWith('--') && arg.length > 2) names.add(arg.slice(2).split('=')[0]!);
  }
  return names;
}

/** File flags first, minus every flag the command line gives itself: the command line wins. */
export function mergeArgv(fromFile: readonly string[], fromCommandLine: readonly string[]): string[] {
  const given = flagNames(fromCommandLine);
  return [...fromFile.filter(a => !given.has(a.slice(2).split('=')[0]!)), ...fromCommandLine];
}

/** Splits `--config FILE` / `--config=FILE` off the arguments. */
export function takeConfigFlag(argv: readonly string[]): { file?: string; rest: string[] } {
  const rest: string[] = [];
  let file: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--config') {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('-')) throw new ConfigFileError('flag --config needs a file');
      file = next;
      i++;
    } else if (arg.startsWith('--config=')) file = arg.slice('--config='.length);
    else rest.push(arg);
  }
  return file === undefined ? { rest } : { file, rest };
}

export interface ConfigSource {
  readFile(path: string): string | undefined;
}

const fsSource: ConfigSource = {
  readFile(path) {
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new ConfigFileError(`config file "${path}" cannot be read: ${(err as Error).message}`);
    }
  },
};

/**
 * The arguments a command runs with: the config file's flags merged under the command line's.
 * An explicit `--config` (or $K8TS_CONFIG_FILE) must exist; the default file is optional.
 */
export function loadConfigArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, source: ConfigSource = fsSource): string[] {
  const { file: flagFile, rest } = takeConfigFlag(argv);
  const explicit = flagFile ?? (env.K8TS_CONFIG_FILE || undefined);
  const file = explicit ?? defaultConfigFile;
  const text = source.readFile(file);
  if (text === undefined) {
    if (explicit !== undefined) throw new ConfigFileError(`config file "${file}" does not exist`);
    return rest;
  }
  return mergeArgv(configToArgv(parseConfigFile(text, file)), rest);
}
