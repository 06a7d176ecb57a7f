import { exitStatus, parseExecQuery, pickProtocol, shellQuote } from './exec.js';

describe('exec', () => {
  it('parseExecQuery takes every command parameter in order', () => {
    expect(parseExecQuery(new URLSearchParams('command=sh&command=-c&command=echo+hi&stdin=true&stdout=true&tty=false'))).toEqual({
      command: ['sh', '-c', 'echo hi'], stdin: true, stdout: true, stderr: false, tty: false,
    });
    expect(() => parseExecQuery(new URLSearchParams(''))).toThrow('at least one command');
  });

  it('pickProtocol prefers v5 and falls back to v4', () => {
    expect(pickProtocol(new Set(['v4.channel.k8s.io', 'v5.channel.k8s.io']))).toBe('v5.channel.k8s.io');
    expect(pickProtocol(new Set(['v4.channel.k8s.io']))).toBe('v4.channel.k8s.io');
    expect(pickProtocol(new Set(['channel.k8s.io']))).toBe(false);
  });

  it('exitStatus reports a non-zero exit as NonZeroExitCode with the code in causes', () => {
    expect(exitStatus(0, ['true'])).toEqual({ metadata: {}, status: 'Success' });
    expect(exitStatus(3, ['sh'])).toMatchObject({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '3' }] } });
  });

  it('shellQuote quotes what the shell would split or expand', () => {
    expect(shellQuote(['ctr', '--address', '/run/x.sock', 'sh', '-c', "echo 'hi' $X"])).toBe(`ctr --address /run/x.sock sh -c 'echo '\\''hi'\\'' $X'`);
  });
});
