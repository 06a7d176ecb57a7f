// What `k8ts install` writes, as pure functions of the install's choices: the systemd unit, the
// config file, the environment file, the sysctl and module lists, and k8ts-killall.sh. The
// side effects (copying, writing under an install root, systemctl) are in ./install.ts.
//
// Design notes, after k3s' install.sh:
// - KillMode=process: a restart of the service stops only the k8ts process; containerd's shims and
//   the containers under them keep running and the new k8ts adopts them (the kubelet relists).
// - Delegate=yes: containers' cgroups are created below the service's, so systemd must leave
//   that subtree alone.
// - Modules are loaded at boot (modules-load.d) and again, failure tolerated, before each start:
//   a module missing from a kernel must not stop the node, and the proxy reports the mode it can
//   not run.
// - The agent's join token lives in a 0600 file named by the config (`token-file`), never in the
//   unit or on a command line; secrets given to a server go to the 0600 environment file.
import { stringify as toYaml } from 'yaml';
import type { ConfigValues } from './config-file.js';

export type Role = 'server' | 'agent';

/**
 * Where everything goes. Under an install root (`--root DIR`, tests) every path is prefixed and
 * the install is relocated, not staged: the unit runs DIR/opt/k8ts/bin/k8ts with
 * `--config DIR/etc/k8ts/config.yaml`, so what was written can be verified and run as it is.
 */
export interface Layout {
  root: string;
  installDir: string;
  binLink: string;
  killall: string;
  uninstall: string;
  configDir: string;
  config: string;
  agentToken: string;
  sysctl: string;
  modules: string;
  cniBinLink: string;
  /** What install created, read by uninstall (JSON). */
  manifest: string;
  /** The CNI network the agent writes (agent/network.ts k8tsConfFile). */
  cniConf: string;
  unit(role: Role): string;
  env(role: Role): string;
  defaultDataDir: string;
}

export function layout(root: string): Layout {
  const r = root === '/' ? '' : root.replace(/\/+$/, '');
  return {
    root: r === '' ? '/' : r,
    installDir: `${r}/opt/k8ts`,
    binLink: `${r}/usr/local/bin/k8ts`,
    killall: `${r}/usr/local/bin/k8ts-killall.sh`,
    uninstall: `${r}/usr/local/bin/k8ts-uninstall.sh`,
    configDir: `${r}/etc/k8ts`,
    config: `${r}/etc/k8ts/config.yaml`,
    agentToken: `${r}/etc/k8ts/token`,
    sysctl: `${r}/etc/sysctl.d/90-k8ts.conf`,
    modules: `${r}/etc/modules-load.d/k8ts.conf`,
    cniBinLink: `${r}/opt/cni/bin/k8ts-cni`,
    manifest: `${r}/opt/k8ts/install-manifest.json`,
    cniConf: `${r}/etc/cni/net.d/10-k8ts.conflist`,
    unit: role => `${r}/etc/systemd/system/${unitName(role)}`,
    env: role => `${r}/etc/k8ts/k8ts-${role}.env`,
    defaultDataDir: `${r}/var/lib/k8ts`,
  };
}

export const unitName = (role: Role): string => `k8ts-${role}.service`;

/**
 * Kernel modules the data plane uses: bridge netfilter (pods on a bridge reaching Services),
 * overlay (containerd's snapshotter), VXLAN (the overlay network), nf_tables (the nftables proxy
 * and policy), IPVS and its schedulers plus dummy (the IPVS proxy's kube-ipvs0), conntrack.
 */
export const kernelModules = [
  'br_netfilter', 'overlay', 'vxlan', 'dummy', 'nf_conntrack', 'nf_tables',
  'ip_vs', 'ip_vs_rr', 'ip_vs_wrr', 'ip_vs_sh',
] as const;

export const sysctls: Readonly<Record<string, string>> = {
  'net.ipv4.ip_forward': '1',
  'net.ipv6.conf.all.forwarding': '1',
  'net.bridge.bridge-nf-call-iptables': '1',
  'net.bridge.bridge-nf-call-ip6tables': '1',
};

export function renderSysctls(): string {
  return `# Written by k8ts install: pods are routed and bridged through this host.\n${Object.entries(sysctls).map(([k, v]) => `${k} = ${v}`).join('\n')}\n`;
}

export function renderModules(): string {
  return `# Written by k8ts install: modules the k8ts data plane uses.\n${kernelModules.join('\n')}\n`;
}

export function renderUnit(role: Role, l: Layout): string {
  const what = role === 'server' ? 'control plane and node' : 'node agent';
  const configFlag = l.root === '/' ? '' : ` --config ${l.config}`;
  return `# Written by k8ts install; settings go in ${l.config} and ${l.env(role)}.
[Unit]
Description=k8ts ${role}: Kubernetes ${what}
Wants=network-online.target
After=network-online.target

[Service]
Type=exec
EnvironmentFile=-${l.env(role)}
${kernelModules.map(m => `ExecStartPre=-/sbin/modprobe ${m}`).join('\n')}
ExecStartPre=-/usr/lib/systemd/systemd-sysctl ${l.sysctl}
ExecStart=${l.installDir}/bin/k8ts ${role}${configFlag}
# Only the k8ts process is stopped on restart: containers live on in their shims.
KillMode=process
Delegate=yes
LimitNOFILE=1048576
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
TimeoutStartSec=0
Restart=always
RestartSec=5s

[Install]
WantedBy=multi-user.target
`;
}

/** config.yaml: the flags given to install, with a header naming where the rest are documented. */
export function renderConfig(role: Role, values: ConfigValues): string {
  const header = `# k8ts ${role} configuration, written by k8ts install. Keys are the flags of \`k8ts ${role}\`\n` +
    `# (see \`k8ts ${role} --help\`); a flag on the command line overrides the value here.\n`;
  return Object.keys(values).length === 0 ? `${header}{}\n` : header + toYaml(values);
}

export function renderEnv(role: Role, vars: Readonly<Record<string, string>>): string {
  const lines = Object.entries(vars).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return `# Environment of k8ts-${role}.service, written by k8ts install (secrets go here, not in the unit).\n${lines.join('\n')}${lines.length ? '\n' : ''}`;
}

export interface KillallInput {
  /** The agent's data dirs (their containerd and mounts), as installed (with the root prefix). */
  dataDirs: string[];
  /** The agent's runtime dirs (/run/k8ts-<id>): containerd's socket and state. */
  runDirs: string[];
  /**
   * Whether to act on host-wide state too: pod network namespaces (their names are global) and
   * the systemd services. False for an install under a test root, where only the current network
   * namespace and the install's own dirs and processes may be touched.
   */
  hostWide: boolean;
}

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * k8ts-killall.sh, as k3s-killall.sh: stops the services, kills our containerd and every shim
 * and container under it, unmounts what they mounted, and removes our rules, interfaces and pod
 * network namespaces. Files stay (uninstall removes them). Plain POSIX sh: it must work when
 * Node or the install is broken.
 */
export function renderKillall(input: KillallInput): string {
  return `#!/bin/sh
# Written by k8ts install. Stops k8ts and removes what it set up in the kernel and the process
# table: containers, mounts, nftables tables, iptables chains, IPVS services, interfaces and pod
# network namespaces. Files and data stay (k8ts-uninstall.sh removes them).
[ "$(id -u)" = 0 ] || { echo "k8ts-killall.sh: run as root" >&2; exit 1; }
data_dirs=${shellQuote(input.dataDirs.join(' '))}
run_dirs=${shellQuote(input.runDirs.join(' '))}
host_wide=${input.hostWide ? 1 : 0}

if [ "$host_wide" = 1 ] && [ -d /run/systemd/system ]; then
  for unit in k8ts-server.service k8ts-agent.service; do systemctl stop "$unit" 2>/dev/null; done
fi

# A process and everything below it (containers are children of their shim).
tree() {
  for child in $(cat /proc/"$1"/task/*/children 2>/dev/null); do tree "$child"; done
  echo "$1"
}
# Pids whose command line contains $1.
pids_with() {
  for d in /proc/[0-9]*; do
    tr '\\0' ' ' <"$d/cmdline" 2>/dev/null | grep -qF -- "$1" && echo "\${d#/proc/}"
  done
}
killed=
for run in $run_dirs; do
  for pid in $(pids_with "$run/containerd.sock") $(cat "$run/containerd.pid" 2>/dev/null); do
    [ "$pid" = "$$" ] && continue
    below=$(tree "$pid")
    killed="$killed $below"
    kill -9 $below 2>/dev/null
  done
done
# SIGKILL takes effect asynchronously (and the dead wait for their reaper): wait, at most 10 s,
# until they are gone, so that nothing of ours runs once this script returns.
tries=0
while [ "$tries" -lt 100 ]; do
  left=
  for pid in $killed; do [ -d "/proc/$pid" ] && left="$left $pid"; done
  killed=$left
  [ -z "$killed" ] && break
  sleep 0.1
  tries=$((tries + 1))
done
[ -z "$killed" ] || echo "k8ts-killall.sh: still there 10 s after SIGKILL:$killed" >&2

# Unmount deepest first: container root filesystems, shm, netns bind mounts.
for dir in $data_dirs $run_dirs; do
  awk '{print $2}' /proc/self/mounts | grep -E "^$dir(/|$)" | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
done
for run in $run_dirs; do rm -rf "$run"; done

# Under an install root (tests) rules and links are removed only inside a named network
# namespace (ip netns exec), never in the host's.
if [ "$host_wide" = 0 ] && [ -z "$(ip netns identify $$ 2>/dev/null)" ]; then
  echo "k8ts-killall.sh: not in a named network namespace: rules and interfaces left alone"
  exit 0
fi
if [ "$host_wide" = 1 ] && command -v ip >/dev/null; then
  # Pod network namespaces are named k8ts-<pod uid> (agent/kubelet.ts).
  ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^k8ts-[0-9a-f]{8}-[0-9a-f]{4}-' | while read -r ns; do ip netns delete "$ns"; done
fi
if command -v nft >/dev/null; then
  nft list tables 2>/dev/null | awk '$3 ~ /^k8ts/ {print $2, $3}' | while read -r family table; do nft delete table "$family" "$table"; done
fi
for tool in iptables ip6tables; do
  command -v "$tool-save" >/dev/null || continue
  if "$tool-save" 2>/dev/null | grep -qE 'K8TS|KUBE-|CNI-'; then
    "$tool-save" | grep -vE 'K8TS|KUBE-|CNI-' | "$tool-restore"
  fi
done
if command -v ipvsadm >/dev/null && [ -e /proc/net/ip_vs ]; then ipvsadm --clear 2>/dev/null; fi
if command -v ip >/dev/null; then
  ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E '^(k8ts|kube-ipvs0$)' | while read -r link; do ip link delete "$link"; done
fi
exit 0
`;
}

/** k8ts-uninstall.sh: the installed program's `k8ts uninstall`, findable as k3s users expect. */
export function renderUninstall(l: Layout): string {
  const rootFlag = l.root === '/' ? '' : ` --root ${shellQuote(l.root)}`;
  return `#!/bin/sh
# Written by k8ts install: removes k8ts and everything it created (--keep-data keeps the data).
exec ${l.installDir}/bin/k8ts uninstall${rootFlag} "$@"
`;
}
