// An agent joining a server, both installed by install.sh as systemd services, in two test VMs
// (test-vm/vm/run-check.sh with K8TS_VM_AGENTS=1: qemu TCG, a bridge inside a namespace of the
// run's own, the cached Debian image), with the IPVS proxy (K8TS_VM_PROXY=nftables|iptables runs
// the same checks in another mode; nftables and iptables are also covered on this host's kernel by
// many other tests, IPVS only in VMs). What a k3s user does by hand, checked from both sides:
// - the server VM: `install.sh -- --network vxlan --proxy-mode ipvs`, node Ready, `k8ts status`;
//   cluster-checks.sh (the Vagrantfile's last step): a web pod on each node behind a NodePort
//   Service, every pod reaching every pod, both backends through the ClusterIP and through each
//   node's NodePort, from each pod and from the server node, and the server's IPVS virtual servers
//   (ClusterIP, NodePort) holding both pods as real servers; `k8ts trace` from the server's pod to
//   the Service (and its NodePort) naming the IPVS virtual server and both real servers, confirmed
//   by a probe packet; the agent's pod keeps restartCount 0 across `systemctl restart k8ts-agent`;
//   its own restart, kill -9 and uninstall checks;
// - the agent VM: `install.sh --no-start --server URL -- --token-file F …` while the server
//   installs, `systemctl start k8ts-agent` once the token exists, the unit's settings, the proxy
//   rules and VXLAN device made by the agent process itself (k3s' model), its own IPVS virtual
//   servers for the Service with both real servers, both backends through the ClusterIP and each
//   node's NodePort from the agent node, its pod's container and the IPVS state kept across
//   `systemctl restart k8ts-agent` (and the ClusterIP still answering), and `k8ts-uninstall.sh`
//   leaving no file, container, namespace, link, nft table or IPVS service.
// Slow: two VMs under TCG on this 2-core machine (run-check.sh prints per-phase timings).
// Needs root, qemu-system-x86, qemu-utils, virtiofsd and a build.
import { afterAll, beforeAll, expect, jest, test } from '@jest/globals';
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';
import { deleteNetns } from '../../kernel/netns.js';

// The VMs get K8TS_VM_TIMEOUT; the script is stopped (SIGTERM: it powers the VMs off and removes its
// namespace) a little after that, and jest's own limit comes last, so a hung run still cleans up.
const vmTimeoutS = 1500;
const scriptTimeoutMs = (vmTimeoutS + 90) * 1000;
jest.setTimeout(scriptTimeoutMs + 120_000);

const script = fileURLToPath(new URL('../../test-vm/vm/run-check.sh', import.meta.url));

/** run-check.sh's summary: per VM, each step's verdict (`install.sh(97.1s)` is reported as `install.sh`). */
function summary(out: string): Map<string, Map<string, string>> {
  const vms = new Map<string, Map<string, string>>();
  let steps: Map<string, string> | undefined;
  for (const line of out.split('\n')) {
    const head = /^(k8ts-\S+) \(seconds since its boot\), result (\S+):$/.exec(line);
    if (head) { steps = new Map([['result', head[2]!]]); vms.set(head[1]!, steps); continue; }
    const step = /^ {4}(\S+?)(?:\([\d.]+s\))?\s+(ok|FAIL)\s+at /.exec(line);
    if (step && steps) steps.set(step[1]!, step[2]!);
  }
  return vms;
}

const proxy = process.env.K8TS_VM_PROXY ?? 'ipvs';
const ipvs = proxy === 'ipvs';
const serverSteps = ['network', 'modprobe-ip_vs', 'ipvsadm', 'dummy-link', 'install.sh', 'kubeconfig', 'unit-active', 'unit-settings', 'config-modes',
  'sysctl-ip_forward', 'modules-loaded', 'node-ready', 'k8ts-status', 'agents-joined', 'agent1-image', 'cluster-checks',
  'trace-exit', 'trace-confirmed', 'trace-endpoints', ...(ipvs ? ['trace-ipvs-vs', 'trace-ipvs-local'] : []), 'trace-nodeport', ...(ipvs ? ['trace-nodeport-ipvs-vs'] : []),
  'agent1-restarted', 'agent1-ready-after-restart', 'agent1-pod-not-restarted', 'pod-running', 'restart-active', 'restart-node-ready', 'restart-kept-container',
  'restart-pod-not-restarted', 'restart-always', 'after-crash-container-alive', 'uninstall', 'gone-unit', 'gone-files', 'gone-container',
  'gone-netns', 'gone-links', 'gone-nft', 'gone-ipvs', 'gone-mounts'];
const agentSteps = ['network', 'install.sh', 'unit-enabled', 'unit-settings', 'config-modes', 'join-token', 'unit-active', 'image-import', 'agent-proxy-rules', 'k8ts-status',
  'agent-vxlan-device', 'service-facts', ...(ipvs ? ['ipvs-clusterip', 'ipvs-nodeport'] : []), 'node-clusterip', 'node-nodeport-10.99.0.2', 'node-nodeport-10.99.0.3',
  'restart-active', 'restart-kept-container', ...(ipvs ? ['restart-ipvs-kept'] : []), 'restart-node-clusterip', 'server-done', 'uninstall', 'gone-files',
  'gone-container', 'gone-netns', 'gone-links', 'gone-nft', 'gone-ipvs'];

/** run-check.sh's namespaces (`k8ts-t-vm<hex>`): the ones this test finds new afterwards are its own. */
async function vmNamespaces(): Promise<string[]> {
  const r = await execa('ip', ['netns', 'list'], { reject: false });
  return String(r.stdout).split('\n').map(l => l.split(' ')[0]!).filter(n => /^k8ts-t-vm[0-9a-f]+$/.test(n));
}
let before: string[] = [];
let left: string[] = [];
beforeAll(async () => { before = await vmNamespaces(); });
// Whatever happened: a namespace of this run still there has its qemu/virtiofsd killed (the
// processes inside it, by pid) and is deleted, so the next VM test starts clean.
afterAll(async () => {
  for (const ns of (await vmNamespaces()).filter(n => !before.includes(n))) {
    const pids = String((await execa('ip', ['netns', 'pids', ns], { reject: false })).stdout).split('\n').filter(Boolean);
    if (pids.length) await execa('kill', ['-9', ...pids], { reject: false });
    await deleteNetns(ns).catch(() => undefined);
  }
});

test(`an agent VM joins a server VM through install.sh; pods and ${proxy}-mode Services work across them; restart keeps pods; uninstall leaves both clean`, async () => {
  const r = await execa(script, [], {
    reject: false, all: true, timeout: scriptTimeoutMs, forceKillAfterDelay: 60_000,
    env: { K8TS_VM_AGENTS: '1', K8TS_VM_NETWORK: 'vxlan', K8TS_VM_PROXY: proxy, K8TS_VM_TIMEOUT: String(vmTimeoutS) },
  });
  const out = String(r.all);
  left = (await vmNamespaces()).filter(n => !before.includes(n));
  const vms = summary(out);
  const verdicts = (vm: string, steps: string[]) => Object.fromEntries(steps.map(s => [s, vms.get(vm)?.get(s) ?? 'missing']));
  const notOk = [...serverSteps.map(s => `k8ts-server/${s}`), ...agentSteps.map(s => `k8ts-agent1/${s}`)].filter(k => vms.get(k.split('/')[0]!)?.get(k.split('/')[1]!) !== 'ok');
  // A failure shows the run's own output: the guests' step lines and what they printed about them.
  if (notOk.length) process.stderr.write(`join-vm: not ok: ${notOk.join(', ')}; exit ${r.exitCode}; the run's output, last 12 000 characters:\n${out.slice(-12_000)}\n`);
  // Every step must be there and pass: a missing one means the guest died or stopped early.
  expect(verdicts('k8ts-server', serverSteps)).toEqual(Object.fromEntries(serverSteps.map(s => [s, 'ok'])));
  expect(verdicts('k8ts-agent1', agentSteps)).toEqual(Object.fromEntries(agentSteps.map(s => [s, 'ok'])));
  expect(out).toContain('cluster-checks: all passed');
  if (ipvs) {
    // The server's IPVS virtual servers, as cluster-checks.sh found them, and k8ts trace's IPVS step.
    expect(out).toMatch(/^cluster-checks: IPVS virtual server TCP [\d.]+:80 on k8ts-server → [\d.]+:8080 [\d.]+:8080 $/m);
    expect(out).toMatch(/^k8ts-trace: +\d+\. SVC: DNAT in ipvs\/TCP [\d.]+:80 to one of 2 endpoint\(s\):$/m);
  }
  expect({ exitCode: r.exitCode, tail: r.exitCode === 0 ? '' : out.split('\n').slice(-60).join('\n') }).toEqual({ exitCode: 0, tail: '' });
  // The script removes its namespace (and with it the taps and bridge) itself.
  expect(left).toEqual([]);
});
