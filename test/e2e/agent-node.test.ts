// The agent's node-level features end to end on a real containerd: `/stats/summary` from the
// containers' cgroups (a CPU-bound container under a quota, a container holding memory), and
// persistentVolumeClaim volumes resolved through the bound PersistentVolume to a node path, and
// hostPorts through the reference CNI `portmap` plugin (its rules live in the test's node
// network namespace, where the agent runs its CNI plugins), and securityContext user and groups.
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import YAML from 'yaml';
import { execa } from 'execa';
import type { Node } from 'kubernetes-types/core/v1.js';
import type { Summary } from '../../agent/stats.js';
import { eventually, TestServer } from './harness.js';
import { podHelpers, startNodeWithAgent, stopNodeWithAgent, type TestAgent, testImageName } from './agent-harness.js';

jest.setTimeout(120_000);

const server = new TestServer();
let agent: TestAgent;
const scratch = mkdtempSync(join(tmpdir(), 'k8ts-agent-node-'));

async function create(path: string, body: Record<string, unknown>): Promise<void> {
  const r = await server.request('POST', path, body);
  if (r.status !== 201) throw new Error(`creating ${path}: ${r.status} ${JSON.stringify(r.body)}`);
}

const { getPod, createPod, waitStatus } = podHelpers(server, () => agent.nodeName);

const sh = (script: string) => ({ image: testImageName, command: ['sh', '-c', script] });

/** GET on the kubelet API as the cluster admin (the kubelet's serving certificate is self-signed). */
async function kubeletGet(path: string): Promise<{ status: number; body: string }> {
  const node = (await server.request('GET', `/api/v1/nodes/${agent.nodeName}`)).body as Node;
  const port = node.status!.daemonEndpoints!.kubeletEndpoint!.Port;
  const kc = YAML.parse(readFileSync(server.kubeconfig, 'utf8')) as { users: { user: { 'client-certificate-data': string; 'client-key-data': string } }[] };
  const b64 = (s: string) => Buffer.from(s, 'base64');
  const httpsAgent = new Agent({ cert: b64(kc.users[0]!.user['client-certificate-data']), key: b64(kc.users[0]!.user['client-key-data']), rejectUnauthorized: false });
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: httpsAgent }, res => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => { httpsAgent.destroy(); resolve({ status: res.statusCode ?? 0, body }); });
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => { agent = await startNodeWithAgent(server, ['--crash-loop-backoff', '1s', '--relist-period', '2s']); }, 120_000);
afterAll(async () => {
  await stopNodeWithAgent(server, agent);
  rmSync(scratch, { recursive: true, force: true });
}, 120_000);

describe('/stats/summary', () => {
  it('reports per-container and per-pod CPU and memory from the cgroups, and node totals', async () => {
    await createPod('busy', {
      containers: [
        // A quarter of a core, busy: usageNanoCores must come out at or under 250m.
        { name: 'spin', ...sh('while true; do :; done'), resources: { limits: { cpu: '250m' } } },
        // 32 MiB in tmpfs is charged to the container's memory cgroup and is not reclaimable.
        { name: 'hold', ...sh('head -c 33554432 /dev/zero > /dev/shm/fill; sleep 3600'), resources: { limits: { memory: '128Mi' } } },
      ],
    });
    const pod = await waitStatus('busy', s => s.phase === 'Running' && (s.containerStatuses ?? []).every(c => c.ready));
    const stats = await eventually('a CPU rate and the memory for pod busy', async () => {
      const r = await kubeletGet('/stats/summary');
      if (r.status !== 200) throw new Error(`${r.status} ${r.body}`);
      const s = JSON.parse(r.body) as Summary;
      const p = s.pods.find(x => x.podRef.name === 'busy');
      const spin = p?.containers.find(c => c.name === 'spin');
      const hold = p?.containers.find(c => c.name === 'hold');
      return spin?.cpu?.usageNanoCores !== undefined && (spin.cpu.usageCoreNanoSeconds ?? 0) > 1e9 && (hold?.memory?.workingSetBytes ?? 0) > 32 * 2 ** 20 ? s : undefined;
    }, 60_000);
    const p = stats.pods.find(x => x.podRef.name === 'busy')!;
    expect(p.podRef).toEqual({ name: 'busy', namespace: 'default', uid: pod.metadata!.uid });
    const spin = p.containers.find(c => c.name === 'spin')!;
    const hold = p.containers.find(c => c.name === 'hold')!;
    // The quota caps it at 250m (proof of the unit); on a loaded test machine it may get less.
    expect(spin.cpu!.usageNanoCores!).toBeGreaterThan(0.01e9);
    expect(spin.cpu!.usageNanoCores!).toBeLessThan(0.3e9);
    expect(hold.memory!.workingSetBytes!).toBeLessThan(64 * 2 ** 20);
    expect(hold.memory!.availableBytes).toBe(128 * 2 ** 20 - hold.memory!.workingSetBytes!);
    expect(p.memory!.workingSetBytes).toBe(spin.memory!.workingSetBytes! + hold.memory!.workingSetBytes!);
    expect(p.cpu!.usageCoreNanoSeconds).toBe(spin.cpu!.usageCoreNanoSeconds! + hold.cpu!.usageCoreNanoSeconds!);
    expect(stats.node.nodeName).toBe(agent.nodeName);
    expect(stats.node.cpu!.usageCoreNanoSeconds!).toBeGreaterThan(spin.cpu!.usageCoreNanoSeconds!);
    expect(stats.node.memory!.workingSetBytes!).toBeGreaterThan(hold.memory!.workingSetBytes!);
    // CPU shares from the limit (no request): 250m → 256, as upstream's MilliCPUToShares; no CPU
    // resources → the default weight. (cgroup v1 layout: cpu/<containerd namespace>/<id>.)
    const cpuDir = '/sys/fs/cgroup/cpu/k8ts';
    if (existsSync(cpuDir)) {
      const shares = readdirSync(cpuDir).filter(d => d.startsWith(pod.metadata!.uid!)).map(d => Number(readFileSync(join(cpuDir, d, 'cpu.shares'), 'utf8'))).sort((a, b) => a - b);
      expect(shares).toEqual([256, 1024]);
    }
    await server.request('DELETE', '/api/v1/namespaces/default/pods/busy?gracePeriodSeconds=0');
  });

  it('reports pod network counters, container rootfs and log usage, and node filesystems', async () => {
    const gw = agent.podCIDR.replace(/\.0\/24$/, '.1');
    const pod = await createPod('io', {
      containers: [{ name: 'w', ...sh(`head -c 2097152 /dev/urandom > /big; ping -c 3 -W 1 ${gw} >/dev/null 2>&1; i=0; while [ $i -lt 500 ]; do echo "log line $i padded to make the log file grow"; i=$((i+1)); done; echo done; sleep 3600`) }],
    });
    await eventually('the container to have written', async () => (agent.containerLog('default', 'io', pod.metadata!.uid!, 'w').includes('done') ? true : undefined), 60_000);
    const stats = await eventually('network, rootfs and logs for pod io', async () => {
      // Straight from the kubelet; the apiserver's nodes/proxy route to it is tested below.
      const r = await kubeletGet('/stats/summary');
      if (r.status !== 200) throw new Error(`${r.status} ${r.body}`);
      const s = JSON.parse(r.body) as Summary;
      const p = s.pods.find(x => x.podRef.name === 'io');
      const c = p?.containers.find(x => x.name === 'w');
      // Disk usage is re-measured at most every 10 s, so the image imported after the agent started
      // may show up a little later.
      const imageFs = s.node.runtime?.imageFs?.usedBytes ?? 0;
      return (c?.rootfs?.usedBytes ?? 0) >= 2 * 2 ** 20 && (c?.logs?.usedBytes ?? 0) > 0 && (p?.network?.txBytes ?? 0) > 0 && imageFs > 100_000 ? s : undefined;
    }, 60_000);
    const p = stats.pods.find(x => x.podRef.name === 'io')!;
    const c = p.containers.find(x => x.name === 'w')!;
    // Upstream's names: network carries eth0 inline and the interface list.
    expect(p.network).toMatchObject({ name: 'eth0', time: expect.any(String), interfaces: [expect.objectContaining({ name: 'eth0' })] });
    expect(p.network!.rxBytes).toBeGreaterThan(0);
    // 2 MiB written into the container's own layer (and nothing like the image's size, which is shared).
    expect(c.rootfs!.usedBytes!).toBeLessThan(3 * 2 ** 20);
    expect(c.rootfs!.capacityBytes!).toBeGreaterThan(c.rootfs!.usedBytes!);
    expect(c.logs!.usedBytes!).toBeGreaterThanOrEqual(4096);
    expect(p['ephemeral-storage']!.usedBytes).toBe(c.rootfs!.usedBytes! + c.logs!.usedBytes!);
    expect(stats.node.fs).toMatchObject({ capacityBytes: expect.any(Number), availableBytes: expect.any(Number), usedBytes: expect.any(Number), inodes: expect.any(Number) });
    expect(stats.node.runtime?.imageFs?.usedBytes ?? 0).toBeGreaterThan(100_000); // the imported test image's blobs
    expect(stats.node.network?.interfaces).toBeDefined();
    await server.request('DELETE', '/api/v1/namespaces/default/pods/io?gracePeriodSeconds=0');
  });

  it('is reachable through the apiserver: kubectl get --raw /api/v1/nodes/N/proxy/stats/summary', async () => {
    const r = await server.kubectl(['get', '--raw', `/api/v1/nodes/${agent.nodeName}/proxy/stats/summary`]);
    expect(r.stderr).toBe('');
    const s = JSON.parse(r.stdout) as Summary;
    expect(s.node.nodeName).toBe(agent.nodeName);
    expect(Array.isArray(s.pods)).toBe(true);
    // The kubelet's own paths pass through too.
    expect(await server.kubectl(['get', '--raw', `/api/v1/nodes/${agent.nodeName}/proxy/healthz`])).toMatchObject({ exitCode: 0, stdout: 'ok' });
    // An unknown node is upstream's NotFound, as kubectl prints it.
    const missing = await server.kubectl(['get', '--raw', '/api/v1/nodes/no-such-node/proxy/stats/summary']);
    expect(missing.exitCode).not.toBe(0);
    expect(missing.stderr).toContain('Error from server (NotFound): nodes "no-such-node" not found');
    // A node without an address, or whose kubelet does not answer: 503 ServiceUnavailable.
    await create('/api/v1/nodes', { metadata: { name: 'no-address' } });
    await create('/api/v1/nodes', { metadata: { name: 'no-kubelet' }, status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { kubeletEndpoint: { Port: 1 } } } });
    try {
      for (const n of ['no-address', 'no-kubelet']) {
        const down = await server.kubectl(['get', '--raw', `/api/v1/nodes/${n}/proxy/stats/summary`]);
        expect(down.stderr).toContain('Error from server (ServiceUnavailable)');
      }
    } finally {
      for (const n of ['no-address', 'no-kubelet']) await server.request('DELETE', `/api/v1/nodes/${n}`);
    }
    // Discovery lists the subresource as upstream does.
    const api = JSON.parse((await server.kubectl(['get', '--raw', '/api/v1'])).stdout) as { resources: { name: string; kind: string; verbs: string[] }[] };
    expect(api.resources.find(x => x.name === 'nodes/proxy')).toMatchObject({ kind: 'NodeProxyOptions', verbs: expect.arrayContaining(['get', 'create']) });
  });

  it('refuses callers without a client certificate', async () => {
    const node = (await server.request('GET', `/api/v1/nodes/${agent.nodeName}`)).body as Node;
    const port = node.status!.daemonEndpoints!.kubeletEndpoint!.Port;
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/stats/summary', rejectUnauthorized: false }, res => { res.resume(); resolve(res.statusCode ?? 0); });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(401);
  });
});

describe('persistentVolumeClaim volumes', () => {
  it('mounts the path of the bound hostPath PersistentVolume, and keeps the data for the next pod', async () => {
    const path = join(scratch, 'pv-data');
    await create('/api/v1/persistentvolumes', {
      apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: 'pv-local-1' },
      spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], hostPath: { path, type: 'DirectoryOrCreate' }, storageClassName: 'manual', claimRef: { namespace: 'default', name: 'data' } },
    });
    await create('/api/v1/namespaces/default/persistentvolumeclaims', {
      apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'data' },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: 'manual', volumeName: 'pv-local-1' },
    });
    // Binding is the PV controller's job; this test binds the claim itself if nothing else does.
    const pvc = await server.request('GET', '/api/v1/namespaces/default/persistentvolumeclaims/data');
    if ((pvc.body as { status?: { phase?: string } }).status?.phase !== 'Bound') {
      const r = await server.request('PUT', '/api/v1/namespaces/default/persistentvolumeclaims/data/status', { ...(pvc.body as object), status: { phase: 'Bound', accessModes: ['ReadWriteOnce'], capacity: { storage: '1Gi' } } });
      expect(r.status).toBe(200);
    }
    await createPod('writer', {
      restartPolicy: 'Never',
      containers: [{ name: 'w', ...sh('echo persisted > /data/file'), volumeMounts: [{ name: 'd', mountPath: '/data' }] }],
      volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'data' } }],
    });
    await waitStatus('writer', s => s.phase === 'Succeeded');
    expect(readFileSync(join(path, 'file'), 'utf8')).toBe('persisted\n');
    const reader = await createPod('reader', {
      restartPolicy: 'Never',
      containers: [{ name: 'r', ...sh('cat /data/file'), volumeMounts: [{ name: 'd', mountPath: '/data', readOnly: true }] }],
      volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'data' } }],
    });
    await waitStatus('reader', s => s.phase === 'Succeeded');
    expect(agent.containerLog('default', 'reader', reader.metadata!.uid!, 'r')).toBe('persisted\n');
  });

  it('a claim that does not exist keeps the container in ContainerCreating with the FailedMount message', async () => {
    await createPod('no-claim', {
      containers: [{ name: 'c', ...sh('sleep 3600'), volumeMounts: [{ name: 'd', mountPath: '/data' }] }],
      volumes: [{ name: 'd', persistentVolumeClaim: { claimName: 'missing' } }],
    });
    const p = await waitStatus('no-claim', s => s.containerStatuses?.[0]?.state?.waiting?.message !== undefined);
    expect(p.status!.containerStatuses![0]!.state!.waiting).toEqual({ reason: 'ContainerCreating', message: 'MountVolume.SetUp failed for volume "d" : persistentvolumeclaim "missing" not found' });
    expect(p.status!.phase).toBe('Pending');
    expect(existsSync(join(scratch, 'missing'))).toBe(false);
    // A configMap volume without its ConfigMap: the same, and neither blocks a healthy pod.
    await createPod('no-cm', { containers: [{ name: 'c', ...sh('sleep 3600'), volumeMounts: [{ name: 'cfg', mountPath: '/cfg' }] }], volumes: [{ name: 'cfg', configMap: { name: 'absent' } }] });
    await createPod('healthy-next', { containers: [{ name: 'c', ...sh('sleep 3600') }] });
    const cm = await waitStatus('no-cm', s => s.containerStatuses?.[0]?.state?.waiting?.message !== undefined);
    expect(cm.status!.containerStatuses![0]!.state!.waiting).toEqual({ reason: 'ContainerCreating', message: 'MountVolume.SetUp failed for volume "cfg" : configmap "absent" not found' });
    await waitStatus('healthy-next', s => s.phase === 'Running');
  });
});

describe('hostPort', () => {
  it('reaches a container port through the node\'s hostPort (CNI portmap), and the rule goes with the pod', async () => {
    const hostPort = 30000 + Math.floor(Math.random() * 2000);
    await createPod('hostport', {
      containers: [{ name: 'web', ...sh('mkdir -p /w && echo via-hostport > /w/index.html && httpd -f -p 80 -h /w'), ports: [{ containerPort: 80, hostPort }] }],
    });
    await waitStatus('hostport', s => s.phase === 'Running');
    // The bridge's address (the pod CIDR's gateway) is one of the node namespace's own addresses.
    const nodeAddress = agent.podCIDR.replace(/\.0\/24$/, '.1');
    const body = await eventually('the page through the hostPort', async () => {
      const r = await execa('ip', ['netns', 'exec', agent.nodeNetns, 'wget', '-qO-', '-T', '2', `http://${nodeAddress}:${hostPort}/`], { reject: false });
      return r.exitCode === 0 ? r.stdout : undefined;
    });
    expect(body).toBe('via-hostport');
    const rules = async () => (await execa('ip', ['netns', 'exec', agent.nodeNetns, 'iptables', '-t', 'nat', '-S'])).stdout;
    expect(await rules()).toContain(`--dport ${hostPort}`);
    await server.request('DELETE', '/api/v1/namespaces/default/pods/hostport?gracePeriodSeconds=0');
    await eventually('the hostPort rule to be gone', async () => ((await rules()).includes(`--dport ${hostPort}`) ? undefined : true));
  });
});

describe('securityContext', () => {
  it('runs the container process, and exec probes, with runAsUser, runAsGroup and the supplemental groups', async () => {
    const pod = await createPod('run-as', {
      securityContext: { runAsUser: 1000, runAsGroup: 3000, supplementalGroups: [4000], fsGroup: 5000 },
      containers: [{
        name: 'c', ...sh('id -u; id -g; id -G; touch /root-owned 2>/dev/null && echo writable || echo denied; sleep 3600'),
        // Ready only if the probe runs as the container's user, with its supplemental groups, too.
        readinessProbe: { exec: { command: ['sh', '-c', '[ "$(id -u):$(id -g)" = 1000:3000 ] && id -G | grep -qw 4000 && id -G | grep -qw 5000'] }, periodSeconds: 1 },
      }],
    });
    await waitStatus('run-as', s => s.containerStatuses?.[0]?.ready === true);
    const lines = agent.containerLog('default', 'run-as', pod.metadata!.uid!, 'c').trim().split('\n');
    expect(lines.slice(0, 2)).toEqual(['1000', '3000']);
    expect(lines[2]!.split(' ').sort()).toEqual(['3000', '4000', '5000']);
    expect(lines[3]).toBe('denied');
    // kubectl exec: the same identity, supplemental groups (and fsGroup) included.
    // (busybox's `id` lists getgroups() after `groups=`: the supplemental groups, not the primary gid.)
    const id = await server.kubectl(['exec', 'run-as', '--', 'id']);
    expect(id.stdout.trim()).toMatch(/^uid=1000 gid=3000 groups=/);
    expect(id.stdout.trim().replace(/^.*groups=/, '').split(',').map(g => g.replace(/\(.*\)/, '')).sort()).toEqual(['4000', '5000']);
    expect((await server.kubectl(['exec', 'run-as', '--', 'id', '-G'])).stdout.trim().split(' ').sort()).toEqual(['3000', '4000', '5000']);
  });

  it('supplementalGroups alone: the root process and kubectl exec both carry the groups', async () => {
    await createPod('groups-only', { securityContext: { supplementalGroups: [4100] }, containers: [{ name: 'c', ...sh('sleep 3600') }] });
    await waitStatus('groups-only', s => s.phase === 'Running');
    const id = await server.kubectl(['exec', 'groups-only', '--', 'id', '-G']);
    expect(id.stdout.trim().split(' ')).toEqual(expect.arrayContaining(['0', '4100']));
  });

  it('runAsNonRoot against the image\'s user: root (no USER) and a named user are refused, a numeric one runs', async () => {
    // (USER 0 and 0:gid are the unit test's: each image variant costs a build and an import here.)
    await agent.importImageWithUser('docker.io/k8ts/busybox:user-1000', '1000:1000');
    await agent.importImageWithUser('docker.io/k8ts/busybox:user-nobody', 'nobody');
    const nonRoot = (image: string) => ({ securityContext: { runAsNonRoot: true }, containers: [{ name: 'c', image, imagePullPolicy: 'Never', command: ['sh', '-c', 'id -u; sleep 3600'] }] });
    const a = await createPod('nr-default', nonRoot(testImageName));
    await createPod('nr-named', nonRoot('docker.io/k8ts/busybox:user-nobody'));
    const ok = await createPod('nr-1000', nonRoot('docker.io/k8ts/busybox:user-1000'));
    const waiting = (name: string) => waitStatus(name, s => s.containerStatuses?.[0]?.state?.waiting?.reason === 'CreateContainerConfigError');
    expect((await waiting('nr-default')).status!.containerStatuses![0]!.state!.waiting!.message)
      .toBe(`container has runAsNonRoot and image will run as root (pod: "nr-default_default(${a.metadata!.uid})", container: c)`);
    expect((await waiting('nr-named')).status!.containerStatuses![0]!.state!.waiting!.message)
      .toMatch(/^container has runAsNonRoot and image has non-numeric user \(nobody\), cannot verify user is non-root/);
    await waitStatus('nr-1000', s => s.phase === 'Running');
    await eventually('the container to print its uid', async () => (agent.containerLog('default', 'nr-1000', ok.metadata!.uid!, 'c').trim() === '1000' ? true : undefined));
    // The refused pods stay waiting (no container was ever created): still no restart, still Pending.
    const d = (await getPod('nr-default'))!;
    expect(d.status!.phase).toBe('Pending');
    expect(d.status!.containerStatuses![0]!.restartCount).toBe(0);
  });

  it('refuses runAsNonRoot with runAsUser 0 with upstream\'s CreateContainerConfigError', async () => {
    await createPod('non-root', { containers: [{ name: 'c', ...sh('sleep 3600'), securityContext: { runAsNonRoot: true, runAsUser: 0 } }] });
    const p = await waitStatus('non-root', s => s.containerStatuses?.[0]?.state?.waiting?.reason === 'CreateContainerConfigError');
    expect(p.status!.containerStatuses![0]!.state!.waiting!.message).toMatch(/runAsUser breaks non-root policy/);
  });
});
