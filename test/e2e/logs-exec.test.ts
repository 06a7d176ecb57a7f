// `kubectl logs` and `kubectl exec` end to end with the real kubectl: a TestServer (which proxies
// pods/log and pods/exec to kubelets) and a real agent on a real containerd (as root), whose
// kubelet API listens on a random port that its Node advertises.
import { execa } from 'execa';
import { jest } from '@jest/globals';
import type { Pod, PodStatus } from 'kubernetes-types/core/v1.js';
import { eventually, kubectlPath, TestServer } from './harness.js';
import { startNodeWithAgent, stopNodeWithAgent, type TestAgent, testImageName } from './agent-harness.js';

jest.setTimeout(120_000);

const server = new TestServer();
let agent: TestAgent;


async function createPod(name: string, spec: Record<string, unknown>): Promise<Pod> {
  const r = await server.request('POST', '/api/v1/namespaces/default/pods', {
    apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { nodeName: agent.nodeName, terminationGracePeriodSeconds: 1, ...spec },
  });
  if (r.status !== 201) throw new Error(`creating pod ${name}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as Pod;
}

function waitStatus(name: string, pred: (s: PodStatus) => boolean, timeoutMs?: number): Promise<Pod> {
  return eventually(`pod ${name}`, async () => {
    const r = await server.request('GET', `/api/v1/namespaces/default/pods/${name}`);
    const p = r.status === 200 ? r.body as Pod : undefined;
    return p?.status && pred(p.status) ? p : undefined;
  }, timeoutMs);
}

const running = (s: PodStatus) => s.phase === 'Running' && (s.containerStatuses ?? []).every(c => c.state?.running);
const kubectl = (args: string[], opts: { input?: string; timeoutMs?: number } = {}) => server.kubectl(args, opts);

beforeAll(async () => { agent = await startNodeWithAgent(server, ['--crash-loop-backoff', '1s', '--relist-period', '2s', '--kubelet-port', '0']); }, 120_000);
afterAll(async () => { await stopNodeWithAgent(server, agent); }, 120_000);

describe('kubectl logs', () => {
  it('prints a container\'s output, with -c, --tail and --timestamps, in the CRI format on disk', async () => {
    const pod = await createPod('talker', {
      containers: [
        { name: 'a', image: testImageName, command: ['sh', '-c', 'echo one; sleep 0.2; echo two >&2; sleep 0.2; echo three; sleep 3600'] },
        { name: 'b', image: testImageName, command: ['sh', '-c', 'echo from-b; sleep 3600'] },
      ],
    });
    await waitStatus('talker', running);
    await eventually('the log lines', async () => agent.containerLog('default', 'talker', pod.metadata!.uid!, 'a').includes('three') ? true : undefined);
    const raw = (await import('node:fs')).readFileSync(`${agent.logDir}/default_talker_${pod.metadata!.uid!}/a/0.log`, 'utf8');
    expect(raw).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z stdout F one$/m);
    expect(raw).toMatch(/ stderr F two$/m);

    const all = await kubectl(['logs', 'talker', '-c', 'a']);
    expect(all).toMatchObject({ exitCode: 0, stdout: 'one\ntwo\nthree' });
    expect((await kubectl(['logs', 'talker', '-c', 'b'])).stdout).toBe('from-b');
    expect((await kubectl(['logs', 'talker', '-c', 'a', '--tail', '1'])).stdout).toBe('three');
    const ts = await kubectl(['logs', 'talker', '-c', 'a', '--timestamps']);
    expect(ts.stdout.split('\n')).toEqual([expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z one$/), expect.stringMatching(/ two$/), expect.stringMatching(/ three$/)]);
    const noContainer = await kubectl(['logs', 'talker', '-c', 'nope']);
    expect(noContainer.exitCode).not.toBe(0);
    expect(noContainer.stderr).toContain('container nope is not valid for pod talker');

    // Deleting the pod removes its log directory too.
    const { existsSync } = await import('node:fs');
    expect((await kubectl(['delete', 'pod', 'talker', '--grace-period', '0', '--force'])).exitCode).toBe(0);
    await eventually('the pod\'s logs to be removed', async () => (existsSync(`${agent.logDir}/default_talker_${pod.metadata!.uid!}`) ? undefined : true));
  });

  it('keeps every line written while the agent was down (the writer lives with the shim)', async () => {
    await createPod('steady', { containers: [{ name: 'c', image: testImageName, command: ['sh', '-c', 'i=0; while true; do echo n-$i; i=$((i+1)); sleep 0.2; done'] }] });
    await waitStatus('steady', running);
    await agent.stop();
    await new Promise(r => setTimeout(r, 1500));
    await agent.start();
    const r = await eventually('kubectl logs after the restart', async () => {
      const x = await kubectl(['logs', 'steady']);
      return x.exitCode === 0 && x.stdout.split('\n').length >= 12 ? x : undefined;
    });
    const nums = r.stdout.split('\n').map(l => Number(l.replace('n-', '')));
    expect(nums).toEqual(nums.map((_n, i) => i));
  });

  it('follows with -f: lines written later arrive while kubectl runs', async () => {
    await createPod('ticker', { containers: [{ name: 'c', image: testImageName, command: ['sh', '-c', 'i=0; while true; do echo tick-$i; i=$((i+1)); sleep 0.3; done'] }] });
    await waitStatus('ticker', running);
    const proc = execa(kubectlPath(), ['--kubeconfig', server.kubeconfig, 'logs', '-f', 'ticker'], { reject: false });
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
    try {
      await eventually('kubectl logs -f to show tick-8', async () => (out.includes('tick-8\n') ? true : undefined), 20_000);
      const seen = out;
      await eventually('a later line', async () => (out.length > seen.length ? true : undefined), 5_000);
      expect(proc.exitCode).toBeNull();
    } finally {
      proc.kill('SIGTERM');
      await proc;
    }
  });

  it('shows the previous attempt with --previous after a restart, and explains a waiting container', async () => {
    await createPod('restarter', { restartPolicy: 'Always', containers: [{ name: 'c', image: testImageName, command: ['sh', '-c', 'echo run-$(cat /proc/sys/kernel/random/uuid); sleep 1; exit 1'] }] });
    await waitStatus('restarter', s => (s.containerStatuses?.[0]?.restartCount ?? 0) >= 1, 40_000);
    const prev = await kubectl(['logs', 'restarter', '--previous']);
    expect(prev.exitCode).toBe(0);
    expect(prev.stdout).toMatch(/^run-[0-9a-f-]{36}$/);
    const cur = await eventually('the current attempt to log', async () => {
      const r = await kubectl(['logs', 'restarter']);
      return r.exitCode === 0 && /^run-[0-9a-f-]{36}$/.test(r.stdout) ? r : undefined;
    });
    expect(cur.stdout).not.toBe(prev.stdout);

    await createPod('never', { containers: [{ name: 'c', image: 'example.invalid/none:1', imagePullPolicy: 'Never' }] });
    await waitStatus('never', s => s.containerStatuses?.[0]?.state?.waiting?.reason === 'ErrImageNeverPull');
    const waiting = await kubectl(['logs', 'never']);
    expect(waiting.exitCode).not.toBe(0);
    expect(waiting.stderr).toContain('container "c" in pod "never" is waiting to start: ErrImageNeverPull');
  });
});

describe('kubectl exec', () => {
  beforeAll(async () => {
    await createPod('shell', { containers: [{ name: 'c', image: testImageName, command: ['sleep', '3600'] }] });
    await waitStatus('shell', running);
  });

  it('runs a command, prints its output and exits with its code', async () => {
    const r = await kubectl(['exec', 'shell', '--', 'sh', '-c', 'echo hi; echo err >&2; exit 3']);
    expect(r.stdout).toBe('hi');
    expect(r.stderr).toContain('err');
    expect(r.exitCode).toBe(3);
    expect(await kubectl(['exec', 'shell', '--', 'true'])).toMatchObject({ exitCode: 0 });
  });

  it('passes stdin with -i', async () => {
    const r = await kubectl(['exec', '-i', 'shell', '--', 'cat'], { input: 'line one\nline two\n' });
    expect(r).toMatchObject({ exitCode: 0, stdout: 'line one\nline two' });
  });

  it('gives the command a terminal with -it', async () => {
    // kubectl only asks for a TTY when its own stdin is a terminal: `script` gives it one.
    // Its size (set on that terminal) reaches the container through the resize channel.
    const cmd = `stty rows 31 cols 101; ${kubectlPath()} --kubeconfig ${server.kubeconfig} exec -it shell -- sh -c 'tty; sleep 0.5; stty size; exit 4'`;
    const r = await execa('script', ['-q', '-e', '-c', cmd, '/dev/null'], { reject: false, timeout: 30_000, input: '' });
    expect(String(r.stdout)).toMatch(/\/dev\/pts\/\d+/);
    expect(String(r.stdout)).toContain('31 101');
    expect(r.exitCode).toBe(4);
  });

  it('refuses a container that does not exist', async () => {
    const r = await kubectl(['exec', 'shell', '-c', 'nope', '--', 'true']);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain('container nope is not valid for pod shell');
  });
});
