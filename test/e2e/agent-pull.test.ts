// Image pulls from a real registry: Debian's `docker-registry` runs inside a network namespace of
// this test, reached by the agent's containerd through a loopback forwarder (the test's own, which
// counts connections, so the test sees whether a pull talked to the registry). The test image is
// pushed there with `ctr images push --plain-http`; the agent pulls over plain HTTP because of its
// `--insecure-registry` flag. Covers IfNotPresent (pull once), Always (pull every start) and a
// missing image (ErrImagePull, then ImagePullBackOff with the reason).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { jest } from '@jest/globals';
import { execa } from 'execa';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { dial } from '../../agent/probe-net.js';
import { eventually, TestServer } from './harness.js';
import { podHelpers, TestAgent, testImageName } from './agent-harness.js';

jest.setTimeout(120_000);

const server = new TestServer();
let agent: TestAgent | undefined;
const regNetns = `k8ts-t-reg-${randomBytes(3).toString('hex')}`;
const scratch = mkdtempSync(join(tmpdir(), 'k8ts-registry-'));
let registry: ChildProcess | undefined;
let forwarder: Server | undefined;
let connections = 0;
let registryHost = '';

async function createPod(name: string, image: string, imagePullPolicy: string): Promise<Pod> {
  const r = await server.request('POST', '/api/v1/namespaces/default/pods', {
    apiVersion: 'v1', kind: 'Pod', metadata: { name },
    spec: { nodeName: agent!.nodeName, terminationGracePeriodSeconds: 0, containers: [{ name: 'c', image, imagePullPolicy, command: ['sleep', '3600'] }] },
  });
  if (r.status !== 201) throw new Error(`creating pod ${name}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as Pod;
}

const { waitStatus } = podHelpers(server, () => agent!.nodeName);

function ctr(...args: string[]) {
  return execa('ctr', ['--address', agent!.socket, '--namespace', 'k8ts', ...args]);
}

function httpStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, res => { res.resume(); resolve(res.statusCode ?? 0); });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  await execa('ip', ['netns', 'add', regNetns]);
  await execa('ip', ['-n', regNetns, 'link', 'set', 'lo', 'up']);
  writeFileSync(join(scratch, 'config.yml'), `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${join(scratch, 'data')}\nhttp:\n  addr: 127.0.0.1:5000\n`);
  registry = spawn('ip', ['netns', 'exec', regNetns, 'docker-registry', 'serve', join(scratch, 'config.yml')], { stdio: 'ignore' });
  forwarder = createServer(client => {
    connections++;
    const up = dial({ host: '127.0.0.1', port: 5000, netns: regNetns });
    client.pipe(up).pipe(client);
    up.on('error', () => client.destroy());
    client.on('error', () => up.destroy());
  });
  await new Promise<void>(r => forwarder!.listen(0, '127.0.0.1', () => r()));
  registryHost = `127.0.0.1:${(forwarder.address() as AddressInfo).port}`;
  await eventually('the registry to answer', async () => ((await httpStatus(`http://${registryHost}/v2/`).catch(() => 0)) === 200 ? true : undefined));

  await server.start();
  agent = new TestAgent(server, ['--crash-loop-backoff', '1s', '--relist-period', '2s', '--insecure-registry', registryHost]);
  await agent.start();
  await agent.importImage();
  // Push the test image to the registry, then forget the tag so the agent has to pull it.
  await ctr('images', 'tag', testImageName, `${registryHost}/k8ts/busybox:v1`);
  await ctr('images', 'push', '--plain-http', `${registryHost}/k8ts/busybox:v1`);
  await ctr('images', 'rm', `${registryHost}/k8ts/busybox:v1`);
}, 120_000);

afterAll(async () => {
  try {
    const r = await server.request('GET', '/api/v1/namespaces/default/pods');
    for (const p of (r.body as { items?: Pod[] }).items ?? []) await server.request('DELETE', `/api/v1/namespaces/default/pods/${p.metadata!.name}?gracePeriodSeconds=0`);
  } catch { /* the server may be gone */ }
  await agent?.cleanup().catch(() => undefined);
  await server.stop();
  if (registry?.pid) { registry.kill('SIGKILL'); await new Promise(r => registry!.once('exit', r)).catch(() => undefined); }
  await new Promise<void>(r => (forwarder ? forwarder.close(() => r()) : r()));
  await execa('ip', ['netns', 'delete', regNetns], { reject: false });
  rmSync(scratch, { recursive: true, force: true });
}, 120_000);

describe('image pulls from a registry', () => {
  it('IfNotPresent pulls an absent image once; a second pod uses the local copy', async () => {
    const image = `${registryHost}/k8ts/busybox:v1`;
    expect((await ctr('images', 'ls', '-q')).stdout.split('\n')).not.toContain(image);
    const before = connections;
    await createPod('pull-1', image, 'IfNotPresent');
    await waitStatus('pull-1', s => s.phase === 'Running', 60_000);
    expect(connections).toBeGreaterThan(before);
    expect((await ctr('images', 'ls', '-q')).stdout.split('\n')).toContain(image);
    const after = connections;
    await createPod('pull-2', image, 'IfNotPresent');
    await waitStatus('pull-2', s => s.phase === 'Running');
    expect(connections).toBe(after);
  });

  it('Always asks the registry again for every start', async () => {
    const before = connections;
    await createPod('pull-always', `${registryHost}/k8ts/busybox:v1`, 'Always');
    await waitStatus('pull-always', s => s.phase === 'Running', 60_000);
    expect(connections).toBeGreaterThan(before);
  });

  it('a missing image shows ErrImagePull with the registry\'s reason, then ImagePullBackOff', async () => {
    await createPod('pull-missing', `${registryHost}/k8ts/nothing:v1`, 'IfNotPresent');
    // ErrImagePull lasts until the next sync; on a busy machine a poll can land after it has
    // already become ImagePullBackOff, so either is the first sign, and ErrImagePull carries the reason.
    const err = await waitStatus('pull-missing', s => ['ErrImagePull', 'ImagePullBackOff'].includes(s.containerStatuses?.[0]?.state?.waiting?.reason ?? ''), 60_000);
    const waiting = err.status!.containerStatuses![0]!.state!.waiting!;
    if (waiting.reason === 'ErrImagePull') expect(waiting.message).toMatch(/not found/);
    expect(err.status!.phase).toBe('Pending');
    const backoff = await waitStatus('pull-missing', s => s.containerStatuses?.[0]?.state?.waiting?.reason === 'ImagePullBackOff', 60_000);
    expect(backoff.status!.containerStatuses![0]!.state!.waiting!.message).toBe(`Back-off pulling image "${registryHost}/k8ts/nothing:v1"`);
  });
});
