// The pure core of k8ts-cni: the request (CNI_* environment + the network configuration on stdin)
// parsed and validated into one typed object, with the spec's error codes. No I/O here: main.ts
// reads the environment and stdin and hands the text over, so every rule is unit-tested.
//
// Versions: we speak CNI 1.0.0 and 1.1.0 (GC and STATUS exist only in 1.1.0, as in the reference
// plugins' skel). Older configurations get code 1 (incompatible version): their result format
// (0.x `version` fields in ips, no `mtu`) is not worth a converter for a plugin only k8ts installs.

export const SUPPORTED_VERSIONS = ['1.0.0', '1.1.0'] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];

/** The spec's well-known error codes, plus ours (100+). */
export const ErrCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnv: 4,
  IO: 5,
  Decode: 6,
  InvalidConfig: 7,
  TryAgainLater: 11,
  NotAvailable: 50,
  NotAvailableLimited: 51,
  /** The kernel refused an operation (the message names it and the errno). */
  Kernel: 100,
  /** ADD: CNI_IFNAME already exists in the container. */
  InterfaceExists: 101,
  /** ADD: no free address left in the pod CIDR. */
  AddressesExhausted: 102,
  /** CHECK: the attachment differs from prevResult. */
  CheckFailed: 103,
} as const;

export class CniError extends Error {
  constructor(readonly code: number, message: string, readonly details = '') {
    super(message);
    this.name = 'CniError';
  }
}

export type Command = 'ADD' | 'DEL' | 'CHECK' | 'VERSION' | 'GC' | 'STATUS';
export type Mode = 'bridge' | 'routed';

export interface Ipv4Range {
  /** The pod CIDR, e.g. 10.244.1.0/24. */
  subnet: string;
  /** First and last allocatable addresses (inclusive). */
  rangeStart: string;
  rangeEnd: string;
  /** Bridge mode: the bridge's address and the pods' default gateway. */
  gateway: string;
}

export interface NetConf {
  cniVersion: CniVersion;
  name: string;
  type: string;
  mode: Mode;
  /** Bridge mode: the bridge name (default cni0). */
  bridge: string;
  /** MTU of the pod interface and host veth (default 1500; the overlay's in vxlan clusters). */
  mtu: number;
  /** Bridge mode: hairpin on the host veth, so a pod reaches itself through a Service (default true). */
  hairpinMode: boolean;
  ipam: { range: Ipv4Range; dataDir: string };
  dns?: Record<string, unknown>;
  prevResult?: CniResult;
  validAttachments?: { containerID: string; ifname: string }[];
  /** The configuration as received, for pass-through fields. */
  raw: Record<string, unknown>;
}

export interface CniInterface { name: string; mac?: string; mtu?: number; sandbox?: string }
export interface CniIP { address: string; gateway?: string; interface?: number }
export interface CniRoute { dst: string; gw?: string; scope?: number }
export interface CniResult {
  cniVersion: string;
  interfaces?: CniInterface[];
  ips?: CniIP[];
  routes?: CniRoute[];
  dns?: Record<string, unknown>;
}

export interface Request {
  command: Command;
  containerID: string;
  netns: string;
  ifname: string;
  args: Record<string, string>;
  path: string[];
}

export const DEFAULT_DATA_DIR = '/var/lib/k8ts/cni/networks';
const COMMANDS: readonly Command[] = ['ADD', 'DEL', 'CHECK', 'VERSION', 'GC', 'STATUS'];
const CONTAINER_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Validates the CNI_* environment for `command` (spec section 2); code 4 names the bad variables. */
export function parseEnv(env: Record<string, string | undefined>): Request {
  const command = env['CNI_COMMAND'] ?? '';
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw new CniError(ErrCode.InvalidEnv, `invalid CNI_COMMAND "${command}"`, `expected one of ${COMMANDS.join(', ')}`);
  }
  const cmd = command as Command;
  const containerID = env['CNI_CONTAINERID'] ?? '';
  const netns = env['CNI_NETNS'] ?? '';
  const ifname = env['CNI_IFNAME'] ?? '';
  const bad: string[] = [];
  const attachment = cmd === 'ADD' || cmd === 'DEL' || cmd === 'CHECK';
  if (attachment) {
    if (!CONTAINER_ID_RE.test(containerID)) bad.push(`CNI_CONTAINERID="${containerID}"`);
    if (!validIfname(ifname)) bad.push(`CNI_IFNAME="${ifname}"`);
    if (cmd !== 'DEL' && netns === '') bad.push('CNI_NETNS (required)');
  }
  const args: Record<string, string> = {};
  for (const kv of (env['CNI_ARGS'] ?? '').split(';')) {
    if (kv === '') continue;
    const i = kv.indexOf('=');
    if (i <= 0) { bad.push(`CNI_ARGS entry "${kv}"`); continue; }
    args[kv.slice(0, i)] = kv.slice(i + 1);
  }
  if (bad.length) throw new CniError(ErrCode.InvalidEnv, `invalid environment: ${bad.join(', ')}`);
  return { command: cmd, containerID, netns, ifname, args, path: (env['CNI_PATH'] ?? '').split(':').filter(Boolean) };
}

/** Linux interface name rules the spec repeats: 1–15 bytes, not . or .., no / : or whitespace. */
export function validIfname(s: string): boolean {
  return s.length > 0 && Buffer.byteLength(s) < 16 && s !== '.' && s !== '..' && !/[/:\s]/.test(s);
}

/** The `cniVersion` of a VERSION request (stdin may be empty). */
export function versionRequest(stdin: string): string {
  if (stdin.trim() === '') return '1.1.0';
  const o = decode(stdin);
  return typeof o['cniVersion'] === 'string' && o['cniVersion'] !== '' ? o['cniVersion'] : '1.1.0';
}

export function versionResult(cniVersion: string): { cniVersion: string; supportedVersions: string[] } {
  return { cniVersion, supportedVersions: [...SUPPORTED_VERSIONS] };
}

function decode(stdin: string): Record<string, unknown> {
  let o: unknown;
  try { o = JSON.parse(stdin); } catch (e) {
    throw new CniError(ErrCode.Decode, 'cannot decode the network configuration', e instanceof Error ? e.message : String(e));
  }
  if (!o || typeof o !== 'object' || Array.isArray(o)) throw new CniError(ErrCode.Decode, 'the network configuration is not a JSON object');
  return o as Record<string, unknown>;
}

/** Parses and validates the plugin configuration for `command`. */
export function parseConfig(stdin: string, command: Command): NetConf {
  const o = decode(stdin);
  const v = o['cniVersion'];
  if (typeof v !== 'string' || !(SUPPORTED_VERSIONS as readonly string[]).includes(v)) {
    throw new CniError(ErrCode.IncompatibleVersion, `incompatible CNI version "${String(v)}"`, `k8ts-cni supports ${SUPPORTED_VERSIONS.join(', ')}`);
  }
  const cniVersion = v as CniVersion;
  if ((command === 'GC' || command === 'STATUS') && cniVersion === '1.0.0') {
    throw new CniError(ErrCode.IncompatibleVersion, `config version 1.0.0 does not allow ${command}`, 'GC and STATUS need cniVersion 1.1.0');
  }
  const errs: string[] = [];
  const str = (key: string, dflt?: string): string => {
    const x = o[key];
    if (x === undefined && dflt !== undefined) return dflt;
    if (typeof x !== 'string' || x === '') { errs.push(`"${key}" must be a non-empty string`); return ''; }
    return x;
  };
  const name = str('name');
  if (name && !NAME_RE.test(name)) errs.push(`"name" "${name}" has characters a network name may not have`);
  const type = str('type');
  const mode = str('mode', 'bridge');
  if (mode !== 'bridge' && mode !== 'routed') errs.push(`"mode" must be "bridge" or "routed", not "${mode}"`);
  const bridge = str('bridge', 'cni0');
  if (bridge && !validIfname(bridge)) errs.push(`"bridge" "${bridge}" is not a valid interface name`);
  const mtu = o['mtu'] ?? 1500;
  if (typeof mtu !== 'number' || !Number.isInteger(mtu) || mtu < 576 || mtu > 65535) errs.push(`"mtu" must be an integer in 576..65535, not ${JSON.stringify(mtu)}`);
  const hairpin = o['hairpinMode'] ?? true;
  if (typeof hairpin !== 'boolean') errs.push('"hairpinMode" must be a boolean');
  const ipam = parseIpam(o['ipam'], errs);
  if (errs.length) throw new CniError(ErrCode.InvalidConfig, `invalid network configuration: ${errs[0]}`, errs.join('; '));
  const conf: NetConf = {
    cniVersion, name, type, mode: mode as Mode, bridge, mtu: mtu as number, hairpinMode: hairpin as boolean, ipam: ipam!, raw: o,
  };
  if (o['dns'] && typeof o['dns'] === 'object') conf.dns = o['dns'] as Record<string, unknown>;
  if (o['prevResult'] !== undefined) conf.prevResult = parsePrevResult(o['prevResult']);
  if (command === 'CHECK' && !conf.prevResult) throw new CniError(ErrCode.InvalidConfig, 'CHECK needs "prevResult" in the configuration');
  if (command === 'GC') {
    const va = o['cni.dev/valid-attachments'] ?? [];
    if (!Array.isArray(va) || !va.every((a) => a && typeof a === 'object' && typeof (a as Record<string, unknown>)['containerID'] === 'string' && typeof (a as Record<string, unknown>)['ifname'] === 'string')) {
      throw new CniError(ErrCode.InvalidConfig, '"cni.dev/valid-attachments" must be a list of {containerID, ifname}');
    }
    conf.validAttachments = (va as { containerID: string; ifname: string }[]).map((a) => ({ containerID: a.containerID, ifname: a.ifname }));
  }
  return conf;
}

function parsePrevResult(x: unknown): CniResult {
  if (!x || typeof x !== 'object' || Array.isArray(x)) throw new CniError(ErrCode.Decode, '"prevResult" is not a result object');
  const r = x as CniResult;
  if (r.ips !== undefined && !Array.isArray(r.ips)) throw new CniError(ErrCode.Decode, '"prevResult.ips" is not a list');
  if (r.interfaces !== undefined && !Array.isArray(r.interfaces)) throw new CniError(ErrCode.Decode, '"prevResult.interfaces" is not a list');
  return r;
}

/**
 * `ipam`: our built-in allocator over the node's pod CIDR, as `{podCIDR}` (what the agent writes)
 * or host-local's `{ranges: [[{subnet, rangeStart?, rangeEnd?, gateway?}]]}` with one IPv4 range.
 * `type` may be omitted or "k8ts": delegating to another IPAM plugin is not supported (code 2).
 */
function parseIpam(x: unknown, errs: string[]): NetConf['ipam'] | undefined {
  if (!x || typeof x !== 'object' || Array.isArray(x)) { errs.push('"ipam" must be an object with "podCIDR"'); return undefined; }
  const o = x as Record<string, unknown>;
  if (o['type'] !== undefined && o['type'] !== 'k8ts') {
    throw new CniError(ErrCode.UnsupportedField, `unsupported field ipam.type="${String(o['type'])}"`, 'k8ts-cni has its own IPAM: omit ipam.type or set it to "k8ts"');
  }
  let spec: Record<string, unknown>;
  if (typeof o['podCIDR'] === 'string') spec = { subnet: o['podCIDR'], rangeStart: o['rangeStart'], rangeEnd: o['rangeEnd'], gateway: o['gateway'] };
  else if (Array.isArray(o['ranges'])) {
    const flat = (o['ranges'] as unknown[]).flatMap((set) => (Array.isArray(set) ? set : [set]));
    if (flat.length !== 1 || !flat[0] || typeof flat[0] !== 'object') {
      throw new CniError(ErrCode.UnsupportedField, `unsupported field ipam.ranges with ${flat.length} ranges`, 'k8ts-cni allocates from exactly one IPv4 range');
    }
    spec = flat[0] as Record<string, unknown>;
  } else { errs.push('"ipam" needs "podCIDR" (or "ranges")'); return undefined; }
  const dataDir = o['dataDir'] ?? DEFAULT_DATA_DIR;
  if (typeof dataDir !== 'string' || !dataDir.startsWith('/')) errs.push('"ipam.dataDir" must be an absolute path');
  const range = planRange(spec, errs);
  return range ? { range, dataDir: dataDir as string } : undefined;
}

function planRange(s: Record<string, unknown>, errs: string[]): Ipv4Range | undefined {
  const subnet = s['subnet'];
  const m = typeof subnet === 'string' ? /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(subnet) : null;
  const base = m ? ipToInt(m[1]!) : undefined;
  const prefix = m ? Number(m[2]) : NaN;
  if (base === undefined || !(prefix >= 8 && prefix <= 30)) { errs.push(`"ipam.podCIDR" ${JSON.stringify(subnet)} must be an IPv4 CIDR from /8 to /30`); return undefined; }
  const size = 2 ** (32 - prefix);
  const net = base - (base % size);
  if (net !== base) { errs.push(`"ipam.podCIDR" ${String(subnet)} has host bits set (network is ${intToIp(net)}/${prefix})`); return undefined; }
  const inside = (key: string, dflt: number): number => {
    const v = s[key];
    if (v === undefined) return dflt;
    const n = typeof v === 'string' ? ipToInt(v) : undefined;
    if (n === undefined || n <= net || n >= net + size - 1) { errs.push(`"ipam.${key}" ${JSON.stringify(v)} must be a host address inside ${String(subnet)}`); return dflt; }
    return n;
  };
  // .1 is the bridge's address in bridge mode; routed mode leaves it free for the node too, so the
  // pool is the same in both modes and a node can switch modes without renumbering.
  const gateway = inside('gateway', net + 1);
  const start = inside('rangeStart', net + 2);
  const end = inside('rangeEnd', net + size - 2);
  if (start > end) errs.push(`"ipam.rangeStart" ${intToIp(start)} is after "ipam.rangeEnd" ${intToIp(end)}`);
  return { subnet: `${intToIp(net)}/${prefix}`, rangeStart: intToIp(start), rangeEnd: intToIp(end), gateway: intToIp(gateway) };
}

export function ipToInt(s: string): number | undefined {
  const p = s.split('.');
  if (p.length !== 4 || !p.every((x) => /^\d{1,3}$/.test(x) && Number(x) <= 255)) return undefined;
  return p.reduce((a, x) => a * 256 + Number(x), 0);
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function prefixLen(cidr: string): number { return Number(cidr.split('/')[1]); }
