// CtrRuntime against a real containerd (ours, in a temp dir) with the real test image: pins the
// ctr output formats the parsers rely on (task list, delete warning, events, run failures).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import { ensureBusyboxImage, testImageName } from '../test/images/build-busybox-image.js';
import { ContainerdSupervisor } from './containerd.js';
import { CtrRuntime } from './ctr.js';
import { RuntimeError, type ContainerConfig, type RuntimeEvent } from './runtime.js';

jest.setTimeout(120_000);

const dataDir = mkdtempSync(join(tmpdir(), 'k8ts-ctr-itest-'));
const runDir = `/run/k8ts-itest-${randomBytes(3).toString('hex')}`;
const ctd = new ContainerdSupervisor({ dataDir, runDir });
let rt: CtrRuntime;

const config = (id: string, args: string[]): ContainerConfig => ({ id, image: testImageName, labels: { 'io.k8ts.pod.uid': 'itest' }, args, env: ['X=1'], mounts: [], hostNetwork: false, privileged: false });

beforeAll(async () => {
  await ctd.start();
  rt = new CtrRuntime({ address: ctd.address, namespace: 'k8ts' });
  const archive = join(tmpdir(), 'k8ts-busybox-test-image.tar');
  await ensureBusyboxImage(archive);
  await rt.importImage(archive);
});

afterAll(async () => {
  try {
    for (const id of await rt.listContainers()) {
      await rt.kill(id, 'SIGKILL').catch(() => undefined);
      await new Promise(r => setTimeout(r, 200));
      await rt.deleteTask(id).catch(() => undefined);
      await rt.deleteContainer(id).catch(() => undefined);
    }
  } finally {
    await ctd.stop();
    rmSync(runDir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  }
});

describe('CtrRuntime on a real containerd', () => {
  it('imports the test image and reads its config', async () => {
    expect(await rt.listImages()).toContain(testImageName);
    expect((await rt.imageConfig(testImageName)).cmd).toEqual(['sh']);
    expect(await rt.version()).toMatch(/^1\./);
  });

  it('runs a container, sees its exit in the event stream and its exit code on task delete', async () => {
    const events: RuntimeEvent[] = [];
    const stream = rt.events(e => events.push(e), () => undefined);
    try {
      await new Promise(r => setTimeout(r, 300));
      await rt.run(config('itest-exit', ['sh', '-c', 'exit 7']));
      const deadline = Date.now() + 10_000;
      while (!events.some(e => e.type === 'exit' && e.id === 'itest-exit') && Date.now() < deadline) await new Promise(r => setTimeout(r, 50));
      expect(events.find(e => e.type === 'exit' && e.id === 'itest-exit')).toMatchObject({ exitCode: 7 });
      expect((await rt.listTasks()).find(t => t.id === 'itest-exit')?.status).toBe('STOPPED');
      expect(await rt.deleteTask('itest-exit')).toBe(7);
      await rt.setLabels('itest-exit', { 'io.k8ts.exit.code': '7' });
      expect((await rt.containerInfo('itest-exit'))?.labels).toMatchObject({ 'io.k8ts.pod.uid': 'itest', 'io.k8ts.exit.code': '7' });
      await rt.deleteContainer('itest-exit');
      expect(await rt.listContainers()).not.toContain('itest-exit');
    } finally {
      stream.stop();
    }
  });

  it('a missing binary is a RuntimeError with the OCI message', async () => {
    const err = await rt.run(config('itest-missing', ['/no/such/binary'])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as Error).message).toContain('no such file or directory');
    await rt.deleteContainer('itest-missing');
  });

  it('kill stops a running task and reports it as RUNNING before', async () => {
    await rt.run(config('itest-sleep', ['sleep', '60']));
    expect((await rt.listTasks()).find(t => t.id === 'itest-sleep')).toMatchObject({ status: 'RUNNING' });
    await rt.kill('itest-sleep', 'SIGKILL');
    const deadline = Date.now() + 10_000;
    while ((await rt.listTasks()).find(t => t.id === 'itest-sleep')?.status === 'RUNNING' && Date.now() < deadline) await new Promise(r => setTimeout(r, 50));
    expect(rt.oomKilled('itest-sleep')).toBe(false);
    expect(await rt.deleteTask('itest-sleep')).toBe(137);
    await rt.deleteContainer('itest-sleep');
  });

  it('oomKilled reads the OOM kill from the cgroup of a stopped task, until the task is deleted', async () => {
    await rt.run({ ...config('itest-hog', ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=200M', 'count=1']), memoryLimitBytes: 32 * 2 ** 20 });
    const deadline = Date.now() + 10_000;
    while ((await rt.listTasks()).find(t => t.id === 'itest-hog')?.status === 'RUNNING' && Date.now() < deadline) await new Promise(r => setTimeout(r, 50));
    expect(rt.oomKilled('itest-hog')).toBe(true);
    expect(await rt.deleteTask('itest-hog')).toBe(137);
    expect(rt.oomKilled('itest-hog')).toBe(false); // the cgroup went with the task
    await rt.deleteContainer('itest-hog');
  });
});
