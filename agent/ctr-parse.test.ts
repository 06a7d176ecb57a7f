import { parseContainerInfo, parseDeleteExitCode, parseEventLine, parseQuietList, parseTaskList, runFailureMessage } from './ctr-parse.js';

describe('ctr output parsers', () => {
  it('parseTaskList reads ids, pids and statuses under the header', () => {
    const text = 'TASK                                               PID    STATUS    \nabc-0    713    RUNNING\nabc-1    0      STOPPED\nweird    12     SOMETHING\n';
    expect(parseTaskList(text)).toEqual([
      { id: 'abc-0', pid: 713, status: 'RUNNING' },
      { id: 'abc-1', pid: 0, status: 'STOPPED' },
      { id: 'weird', pid: 12, status: 'UNKNOWN' },
    ]);
  });

  it('parseTaskList of an empty list is empty', () => {
    expect(parseTaskList('TASK    PID    STATUS    \n')).toEqual([]);
  });

  it('parseQuietList drops blank lines', () => {
    expect(parseQuietList('a\n\n b \n')).toEqual(['a', 'b']);
  });

  it('parseContainerInfo takes id, image, labels and creation time from the JSON', () => {
    const info = parseContainerInfo(JSON.stringify({ ID: 'c1', Image: 'docker.io/k8ts/busybox:test', Labels: { a: 'b' }, CreatedAt: '2026-01-01T00:00:00Z', Spec: {} }));
    expect(info).toEqual({ id: 'c1', image: 'docker.io/k8ts/busybox:test', labels: { a: 'b' }, createdAt: '2026-01-01T00:00:00Z' });
    expect(parseContainerInfo(JSON.stringify({ ID: 'c2', Labels: null }))?.labels).toEqual({});
    expect(parseContainerInfo('ctr: container "x" not found')).toBeUndefined();
  });

  it('parseDeleteExitCode reads the warning ctr prints for a non-zero exit, else 0', () => {
    expect(parseDeleteExitCode('time="2026-11-26T16:29:00Z" level=warning msg="task c3 exit with non-zero exit code 3"\n')).toBe(3);
    expect(parseDeleteExitCode('')).toBe(0);
  });

  it('parseEventLine turns task exits of our namespace into events and ignores the rest', () => {
    const exit = '2026-11-26 16:29:05.391516211 +0000 UTC k8ts /tasks/exit {"container_id":"c4","id":"c4","pid":21758,"exit_status":7,"exited_at":"2026-11-26T16:29:05.391485725Z"}';
    expect(parseEventLine(exit, 'k8ts')).toEqual({ type: 'exit', id: 'c4', pid: 21758, exitCode: 7, exitedAt: '2026-11-26T16:29:05.391485725Z' });
    expect(parseEventLine(exit, 'other')).toBeUndefined();
    const execExit = '2026-11-26 16:29:05.391516211 +0000 UTC k8ts /tasks/exit {"container_id":"c4","id":"exec-1","pid":3,"exit_status":0,"exited_at":"2026-11-26T16:29:05Z"}';
    expect(parseEventLine(execExit, 'k8ts')).toBeUndefined();
    expect(parseEventLine('2026-11-26 16:29:05.33 +0000 UTC k8ts /tasks/oom {"container_id":"c5"}', 'k8ts')).toEqual({ type: 'oom', id: 'c5' });
    expect(parseEventLine('2026-11-26 16:29:05.33 +0000 UTC k8ts /snapshot/prepare {"key":"c4","parent":"sha256:x"}', 'k8ts')).toBeUndefined();
    expect(parseEventLine('garbage', 'k8ts')).toBeUndefined();
  });

  it('runFailureMessage keeps the OCI message without the ctr prefix', () => {
    const stderr = 'ctr: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "nonexist": executable file not found in $PATH: unknown\n';
    expect(runFailureMessage(stderr)).toBe('failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "nonexist": executable file not found in $PATH: unknown');
  });
});
