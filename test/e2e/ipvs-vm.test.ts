// The IPVS proxy mode against a real IPVS kernel: this machine's kernel has none, so the check runs
// in the qemu test VM (test-vm/vm/ipvs-check.sh, which boots the cached Debian image under TCG).
// Inside, the applier programs a Service with two endpoints in network namespaces and real TCP
// connections must be balanced over both, keep or masquerade their source as upstream does, stick
// with ClientIP affinity, be refused on stray ports, follow an endpoint's removal, and cleanup must
// leave nothing; a retired TCP real server drains at weight 0 (graceful termination), a UDP one
// goes at once; UDP is balanced too; --ipvs-scheduler's value reaches the kernel. ~40 s with the image cached (its first build takes minutes, hence the timeout).
// Needs root, qemu-system-x86 and a build (`npx tsc -p tsconfig.json`).
import { jest } from '@jest/globals';
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';

jest.setTimeout(900_000);

const script = fileURLToPath(new URL('../../test-vm/vm/ipvs-check.sh', import.meta.url));

test('the IPVS mode balances real TCP and UDP traffic over a Service\'s endpoints in the test VM, with graceful termination', async () => {
  const r = await execa(script, [], { reject: false, env: { K8TS_VM_TIMEOUT: '600' }, all: true });
  const lines = String(r.all).split('\n').filter((l) => l.startsWith('ipvscheck: '));
  const failed = lines.filter((l) => / FAIL /.test(l));
  // Every step the guest runs must be there and pass (a missing one means the guest died early).
  for (const step of ['endpoints', 'open', 'sync-2-endpoints', 'ipvsadm-shows-2', 'traffic-balanced', 'node-source-masqueraded',
    'pod-source-kept-and-hairpin', 'affinity-sticks', 'stray-port-refused', 'sync-remove-endpoint', 'traffic-one-endpoint',
    'graceful-weight-0', 'graceful-waits-for-connections', 'graceful-timeout-deletes', 'full-resync-is-noop', 'graceful-drained-deletes',
    'scheduler-lc', 'udp-balanced', 'udp-remove-endpoint-at-once', 'udp-one-endpoint', 'ipvsadm-shows-sctp', 'sctp-remove-endpoint-at-once', 'cleanup', 'cleanup-left-nothing', 'daemon-scheduler-wrr']) {
    expect({ step, line: lines.find((l) => l.startsWith(`ipvscheck: ${step} `)) ?? 'missing' }).toEqual({ step, line: expect.stringMatching(/ ok /) });
  }
  expect(failed).toEqual([]);
  expect({ exitCode: r.exitCode, tail: r.exitCode === 0 ? '' : String(r.all).split('\n').slice(-40).join('\n') }).toEqual({ exitCode: 0, tail: '' });
});
