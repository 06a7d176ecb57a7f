// The agent end to end, as root on a real containerd: pods bound to the agent's node (there is no
// scheduler yet, so tests set spec.nodeName) run with init containers, shared localhost, volumes
// and env; restart policies give upstream's restart counts and reasons; deletion leaves nothing
// behind; a restarted agent adopts running containers without restarting them.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { eventually, TestServer } from './harness.js';
import { podHelpers, startNodeWithAgent, stopNodeWithAgent, type TestAgent, testImageName } from './agent-harness.js';

jest.setTimeout(120_000);

const server = new TestServer();
let agent: TestAgent;

const { getPod, createPod, waitStatus } = podHelpers(server, () => agent.nodeName, { terminationGracePeriodSeconds: 2 });

async function deletePod(name: string, uid: string): Promise<void> {
  await server.request('DELETE', `/api/v1/namespaces/default/pods/${name}`);
  await eventually(`pod ${name} to be gone`, async () => (await getPod(name)) ? undefined : true);
  await eventually(`the containers of ${name} to be gone`, async () => {
    const ids = await agent.runtime().listContainers();
    return ids.some(id => id.startsWith(uid)) ? undefined : true;
  });
}

const sh = (script: string) => ({ image: testImageName, command: ['sh', '-c', script] });

beforeAll(async () => { agent = await startNodeWithAgent(server, ['--crash-loop-backoff', '1s', '--relist-period', '2s']); }, 120_000);
afterAll(async () => { await stopNodeWithAgent(server, agent); }, 120_000);

describe('the agent', () => {
  it('registers its Node with capacity and node info, and a Lease', async () => {
    const n = (await server.request('GET', `/api/v1/nodes/${agent.nodeName}`)).body as { status: { capacity: Record<string, string>; nodeInfo: Record<string, string>; addresses: { type: string; address: string }[] } };
    expect(Number(n.status.capacity.cpu)).toBeGreaterThan(0);
    expect(n.status.capacity.memory).toMatch(/^\d+Ki$/);
    expect(n.status.capacity.pods).toBe('110');
    expect(n.status.nodeInfo.containerRuntimeVersion).toMatch(/^containerd:\/\//);
    expect(n.status.addresses).toContainEqual({ type: 'InternalIP', address: '127.0.0.1' });
    const lease = await server.request('GET', `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${agent.nodeName}`);
    expect(lease.status).toBe(200);
    expect((lease.body as { spec: { holderIdentity: string } }).spec.holderIdentity).toBe(agent.nodeName);
  });

  it('runs an init container, then two containers sharing localhost, an emptyDir and the pod name as hostname', async () => {
    const pod = await createPod('web', {
      initContainers: [{ name: 'init', ...sh('echo hello-from-init > /work/index.html'), volumeMounts: [{ name: 'work', mountPath: '/work' }] }],
      containers: [
        { name: 'httpd', image: testImageName, command: ['httpd', '-f', '-p', '8080', '-h', '/work'], volumeMounts: [{ name: 'work', mountPath: '/work' }] },
        { name: 'client', ...sh('until wget -qO- http://127.0.0.1:8080/index.html; do sleep 0.2; done; hostname; sleep 3600') },
      ],
      volumes: [{ name: 'work', emptyDir: {} }],
    });
    const uid = pod.metadata!.uid!;
    const running = await waitStatus('web', s => s.phase === 'Running' && (s.containerStatuses ?? []).every(c => c.ready));
    expect(running.status!.podIP).toMatch(/^10\.244\./);
    expect(running.status!.initContainerStatuses![0]!.state!.terminated).toMatchObject({ exitCode: 0, reason: 'Completed' });
    expect(running.status!.conditions!.find(c => c.type === 'Ready')!.status).toBe('True');
    await eventually('the client to fetch the page', async () => agent.containerLog('default', 'web', uid, 'client').includes('hello-from-init\nweb\n') ? true : undefined);
    expect(agent.podNetns()).toContain(`${agent.netnsPrefix}${uid}`);
    expect(agent.allocatedIPs()).toContain(running.status!.podIP);

    await deletePod('web', uid);
    expect(agent.podNetns()).not.toContain(`${agent.netnsPrefix}${uid}`);
    expect(agent.allocatedIPs()).not.toContain(running.status!.podIP);
  });

  it('restartPolicy Never: a failing command ends Failed with its exit code, reason Error, no restart', async () => {
    const pod = await createPod('never', { restartPolicy: 'Never', containers: [{ name: 'c', ...sh('exit 3') }] });
    const p = await waitStatus('never', s => s.phase === 'Failed');
    const cs = p.status!.containerStatuses![0]!;
    expect(cs.restartCount).toBe(0);
    expect(cs.state!.terminated).toMatchObject({ exitCode: 3, reason: 'Error' });
    await deletePod('never', pod.metadata!.uid!);
  });

  it('restartPolicy OnFailure: restarts a failed container once, then Succeeded with restartCount 1', async () => {
    const pod = await createPod('onfailure', {
      restartPolicy: 'OnFailure',
      containers: [{ name: 'c', ...sh('if [ -f /data/once ]; then exit 0; fi; touch /data/once; exit 1'), volumeMounts: [{ name: 'd', mountPath: '/data' }] }],
      volumes: [{ name: 'd', emptyDir: {} }],
    });
    const p = await waitStatus('onfailure', s => s.phase === 'Succeeded');
    const cs = p.status!.containerStatuses![0]!;
    expect(cs.restartCount).toBe(1);
    expect(cs.state!.terminated).toMatchObject({ exitCode: 0, reason: 'Completed' });
    expect(cs.lastState!.terminated).toMatchObject({ exitCode: 1, reason: 'Error' });
    await deletePod('onfailure', pod.metadata!.uid!);
  });

  it('restartPolicy Always: a crashing container goes into CrashLoopBackOff and its restartCount grows', async () => {
    const pod = await createPod('always', { containers: [{ name: 'c', ...sh('exit 1') }] });
    const seen = new Set<string>();
    const p = await eventually('two restarts', async () => {
      const q = await getPod('always');
      const cs = q?.status?.containerStatuses?.[0];
      if (cs?.state?.waiting?.reason) seen.add(cs.state.waiting.reason);
      return cs && cs.restartCount >= 2 ? q : undefined;
    }, 40_000);
    expect(p.status!.phase).toBe('Running');
    await waitStatus('always', s => s.containerStatuses?.[0]?.state?.waiting?.reason === 'CrashLoopBackOff', 20_000);
    const q = (await getPod('always'))!;
    expect(q.status!.containerStatuses![0]!.lastState!.terminated).toMatchObject({ exitCode: 1, reason: 'Error' });
    await deletePod('always', pod.metadata!.uid!);
  });

  it('a command that does not exist: StartError with exit code 128 and the runtime message', async () => {
    const pod = await createPod('nocmd', { restartPolicy: 'Never', containers: [{ name: 'c', image: testImageName, command: ['/no/such/binary'] }] });
    const p = await waitStatus('nocmd', s => s.phase === 'Failed');
    const t = p.status!.containerStatuses![0]!.state!.terminated!;
    expect(t.exitCode).toBe(128);
    expect(t.reason).toBe('StartError');
    expect(t.message).toContain('no such file or directory');
    await deletePod('nocmd', pod.metadata!.uid!);
  });

  it('passes env from literals, ConfigMap and Secret keys and the downward API, and mounts configMap, secret and downwardAPI volumes', async () => {
    await server.request('POST', '/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' }, data: { color: 'blue', 'app.conf': 'x=1' } });
    await server.request('POST', '/api/v1/namespaces/default/secrets', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'sec' }, data: { password: Buffer.from('hunter2').toString('base64') } });
    const pod = await createPod('envs', {
      restartPolicy: 'Never',
      containers: [{
        name: 'c', ...sh('echo "L=$LIT C=$COLOR S=$PASS N=$NAME X=$EXPANDED M=$MEM"; cat /etc/cfg/app.conf; echo; cat /etc/sec/password; echo; pwd; echo "D=$(cat /etc/pod/name)/$(cat /etc/pod/cpu)"'),
        resources: { limits: { memory: '64Mi', cpu: '500m' } },
        workingDir: '/tmp',
        env: [
          { name: 'LIT', value: 'literal' },
          { name: 'COLOR', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'color' } } },
          { name: 'PASS', valueFrom: { secretKeyRef: { name: 'sec', key: 'password' } } },
          { name: 'NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          { name: 'EXPANDED', value: '$(LIT)-$(COLOR)' },
          { name: 'MEM', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
        ],
        volumeMounts: [{ name: 'cfg', mountPath: '/etc/cfg' }, { name: 'sec', mountPath: '/etc/sec' }, { name: 'pod', mountPath: '/etc/pod' }],
      }],
      volumes: [{ name: 'cfg', configMap: { name: 'cfg' } }, { name: 'sec', secret: { secretName: 'sec' } }, {
        name: 'pod', downwardAPI: { items: [
          { path: 'name', fieldRef: { fieldPath: 'metadata.name' } },
          { path: 'cpu', resourceFieldRef: { containerName: 'c', resource: 'limits.cpu', divisor: '1m' } },
        ] },
      }],
    });
    await waitStatus('envs', s => s.phase === 'Succeeded');
    const log = agent.containerLog('default', 'envs', pod.metadata!.uid!, 'c');
    expect(log).toContain('L=literal C=blue S=hunter2 N=envs X=literal-blue M=64');
    expect(log).toContain('D=envs/500');
    expect(log).toContain('x=1');
    expect(log).toContain('hunter2\n/tmp');
    await deletePod('envs', pod.metadata!.uid!);
  });

  it('a memory hog over its limit is OOMKilled (exit code 137)', async () => {
    const pod = await createPod('hog', {
      restartPolicy: 'Never',
      containers: [{ name: 'c', ...sh('dd if=/dev/zero of=/dev/null bs=200M count=1'), resources: { limits: { memory: '32Mi' } } }],
    });
    const p = await waitStatus('hog', s => s.phase === 'Failed');
    expect(p.status!.containerStatuses![0]!.state!.terminated).toMatchObject({ exitCode: 137, reason: 'OOMKilled' });
    await deletePod('hog', pod.metadata!.uid!);
  });

  it('a pod deleted while it is still starting leaves nothing behind', async () => {
    const pod = await createPod('hasty', {
      initContainers: [{ name: 'i', ...sh('sleep 0.3') }],
      containers: [{ name: 'a', ...sh('sleep 3600') }, { name: 'b', ...sh('sleep 3600') }],
    });
    const uid = pod.metadata!.uid!;
    await new Promise(r => setTimeout(r, 150));
    await deletePod('hasty', uid);
    await new Promise(r => setTimeout(r, 1000)); // a start in flight would show up now
    expect((await agent.runtime().listContainers()).filter(id => id.startsWith(uid))).toEqual([]);
    expect(agent.podNetns()).not.toContain(`${agent.netnsPrefix}${uid}`);
  });

  it('graceful deletion: SIGTERM, then SIGKILL after the grace period', async () => {
    // sh as PID 1 ignores SIGTERM: the agent must escalate after the grace period.
    const pod = await createPod('grace', { terminationGracePeriodSeconds: 2, containers: [{ name: 'c', ...sh('sleep 3600') }] });
    await waitStatus('grace', s => s.phase === 'Running');
    const t0 = Date.now();
    await deletePod('grace', pod.metadata!.uid!);
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(1900);
    expect(took).toBeLessThan(10_000);
  });

  it('a restarted agent adopts running containers: same task pids, restart counts unchanged', async () => {
    const pod = await createPod('survivor', { containers: [{ name: 'a', ...sh('sleep 3600') }, { name: 'b', ...sh('sleep 3600') }] });
    const uid = pod.metadata!.uid!;
    await waitStatus('survivor', s => s.phase === 'Running' && (s.containerStatuses ?? []).every(c => c.ready));
    const before = (await agent.runtime().listTasks()).filter(t => t.id.startsWith(uid));
    expect(before).toHaveLength(2);
    await agent.stop();
    await agent.start();
    const after = (await agent.runtime().listTasks()).filter(t => t.id.startsWith(uid));
    expect(after.map(t => [t.id, t.pid, t.status]).sort()).toEqual(before.map(t => [t.id, t.pid, t.status]).sort());
    // Give the new agent a relist and a sync, then check nothing was restarted.
    await new Promise(r => setTimeout(r, 3000));
    const p = (await getPod('survivor'))!;
    expect(p.status!.phase).toBe('Running');
    expect(p.status!.containerStatuses!.map(c => c.restartCount)).toEqual([0, 0]);
    const again = (await agent.runtime().listTasks()).filter(t => t.id.startsWith(uid));
    expect(again.map(t => t.pid).sort()).toEqual(before.map(t => t.pid).sort());
    await deletePod('survivor', uid);
  });

  it('containerd killed under the agent: restarted, running containers untouched, new pods start', async () => {
    const pod = await createPod('steady', { containers: [{ name: 'a', ...sh('sleep 3600') }] });
    const uid = pod.metadata!.uid!;
    await waitStatus('steady', s => s.phase === 'Running');
    const before = (await agent.runtime().listTasks()).filter(t => t.id.startsWith(uid));
    const pidFile = join(agent.runDir, 'containerd.pid');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    process.kill(pid, 'SIGKILL');
    // The agent restarts it after 1 s; a failure says which step never came, with containerd's log.
    await eventually('a new containerd', async () => {
      const now = Number(readFileSync(pidFile, 'utf8'));
      if (now === pid) {
        const state = existsSync(`/proc/${pid}/stat`) ? `still there, state ${readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0]}` : 'gone';
        throw new Error(`the pid file still names the killed containerd ${pid} (${state})`);
      }
      await agent.runtime().listTasks();
      return true;
    }, 60_000).catch((err: Error) => {
      const log = join(agent.dataDir, 'containerd.log');
      throw new Error(`${err.message}\ncontainerd.log:\n${existsSync(log) ? readFileSync(log, 'utf8').slice(-3000) : '(none)'}\nagent:\n${agent.logs.slice(-3000)}`);
    });
    expect((await agent.runtime().listTasks()).filter(t => t.id.startsWith(uid))).toEqual(before);
    const next = await createPod('after-restart', { containers: [{ name: 'a', ...sh('sleep 3600') }] });
    await waitStatus('after-restart', s => s.phase === 'Running');
    const p = (await getPod('steady'))!;
    expect(p.status!.containerStatuses![0]!.restartCount).toBe(0);
    await deletePod('after-restart', next.metadata!.uid!);
    await deletePod('steady', uid);
  });

  it('leaves no container, network namespace or IP behind', async () => {
    await eventually('all pods gone', async () => {
      const r = await server.request('GET', '/api/v1/namespaces/default/pods');
      return ((r.body as { items: Pod[] }).items.length === 0) ? true : undefined;
    });
    expect(await agent.runtime().listContainers()).toEqual([]);
    expect(agent.podNetns()).toEqual([]);
    expect(agent.allocatedIPs()).toEqual([]);
  });
});
