import { FakeExec } from '../kernel/exec.js';
import { CtrRuntime, ctrRunArgs } from './ctr.js';
import { RuntimeError } from './runtime.js';

describe('ctrRunArgs', () => {
  it('maps a container config onto ctr run flags, image and id before the argv', () => {
    expect(ctrRunArgs({
      id: 'c1', image: 'docker.io/k8ts/busybox:test', labels: { 'io.k8ts.pod.uid': 'u' }, args: ['sh', '-c', 'x'], env: ['A=1'], cwd: '/w',
      mounts: [{ source: '/s', destination: '/d', readOnly: true }], netnsPath: '/run/netns/p', hostNetwork: false, logPath: '/l/0.log',
      memoryLimitBytes: 1024, cpuQuota: 50_000, cpuPeriod: 100_000, privileged: false,
    })).toEqual([
      'run', '-d', '--log-uri', 'file:///l/0.log', '--label', 'io.k8ts.pod.uid=u', '--env', 'A=1', '--cwd', '/w',
      '--mount', 'type=bind,src=/s,dst=/d,options=rbind:ro', '--with-ns', 'network:/run/netns/p', '--memory-limit', '1024',
      '--cpu-quota', '50000', '--cpu-period', '100000', 'docker.io/k8ts/busybox:test', 'c1', 'sh', '-c', 'x',
    ]);
  });

  it('uses the host network instead of a namespace for hostNetwork pods', () => {
    const a = ctrRunArgs({ id: 'c', image: 'i', labels: {}, args: [], env: [], mounts: [], hostNetwork: true, privileged: true });
    expect(a).toEqual(['run', '-d', '--null-io', '--net-host', '--privileged', 'i', 'c']);
  });
});

describe('ctrRunArgs for a securityContext user', () => {
  it('passes the annotations and the runc wrapper', () => {
    const a = ctrRunArgs({ id: 'c', image: 'i', labels: {}, args: [], env: [], mounts: [], hostNetwork: true, privileged: false, annotations: { 'io.k8ts.run-as-user': '1000' }, runcBinary: '/d/bin/k8ts-runc' });
    expect(a).toEqual(['run', '-d', '--null-io', '--net-host', '--annotation', 'io.k8ts.run-as-user=1000', '--runc-binary', '/d/bin/k8ts-runc', 'i', 'c']);
  });
});

describe('CtrRuntime', () => {
  it('execInContainer runs ctr tasks exec with a fresh exec id and the user, and reports the exit code and output', async () => {
    const exec = new FakeExec(() => ({ exitCode: 3, stdout: 'out\n', stderr: 'err\n' }));
    const rt = new CtrRuntime({ address: '/s', namespace: 'k8ts', exec });
    expect(await rt.execInContainer('c1', ['cat', '/x'], 1000, '1000:3000')).toEqual({ exitCode: 3, output: 'out\nerr\n', timedOut: false });
    const args = exec.calls[0]!.args;
    expect(args.slice(4, 6)).toEqual(['tasks', 'exec']);
    expect(args[7]).toMatch(/^k8ts-[0-9a-f]{12}$/);
    expect(args.slice(8)).toEqual(['--user', '1000:3000', 'c1', 'cat', '/x']);
  });


  it('names the socket and namespace on every call', async () => {
    const exec = new FakeExec(() => ({ exitCode: 0, stdout: 'TASK PID STATUS\nc1 10 RUNNING\n', stderr: '' }));
    const rt = new CtrRuntime({ address: '/run/x.sock', namespace: 'k8ts', exec });
    expect(await rt.listTasks()).toEqual([{ id: 'c1', pid: 10, status: 'RUNNING' }]);
    expect(exec.calls[0]!.args.slice(0, 4)).toEqual(['--address', '/run/x.sock', '--namespace', 'k8ts']);
  });

  it('deleteTask returns the exit code from ctr\'s warning, and undefined for a missing task', async () => {
    let stderr = 'level=warning msg="task c1 exit with non-zero exit code 42"';
    let code = 0;
    const rt = new CtrRuntime({ address: '/s', namespace: 'k8ts', exec: new FakeExec(() => ({ exitCode: code, stdout: '', stderr })) });
    expect(await rt.deleteTask('c1')).toBe(42);
    stderr = 'ctr: task c1: not found'; code = 1;
    expect(await rt.deleteTask('c1')).toBeUndefined();
  });

  it('a failed run is a RuntimeError carrying the OCI message', async () => {
    const rt = new CtrRuntime({ address: '/s', namespace: 'k8ts', exec: new FakeExec(() => ({ exitCode: 1, stdout: '', stderr: 'ctr: failed to create shim task: exec: "x": executable file not found in $PATH: unknown\n' })) });
    const err = await rt.run({ id: 'c', image: 'i', labels: {}, args: ['x'], env: [], mounts: [], hostNetwork: false, privileged: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as Error).message).toBe('starting container "c" failed: failed to create shim task: exec: "x": executable file not found in $PATH: unknown');
  });

  it('kill tolerates a task that is already gone', async () => {
    const rt = new CtrRuntime({ address: '/s', namespace: 'k8ts', exec: new FakeExec(() => ({ exitCode: 1, stdout: '', stderr: 'ctr: process already finished: not found' })) });
    await expect(rt.kill('c', 'SIGTERM')).resolves.toBeUndefined();
  });
});
