// The IPVS proxy mode against a real IPVS kernel: this machine's kernel has none, so the check runs
// in the qemu test VM (test-vm/vm/ipvs-check.sh, which boots the cached Debian image under TCG).
// Inside, the applier programs a Service with two endpoints in network namespaces and real TCP
// connections must be balanced over both, keep or masquerade their source as upstream does, stick
// with ClientIP affinity, be refused on stray ports, follow an endpoint's removal, and cleanup must
// leave nothing. ~20 s with the image cached (its first build takes minutes, hence the timeout).
// Needs root, qemu-system-x86 and a build (`npx tsc -p tsconfig.json`).
import { jest } from '@jest/globals';
import { execa } from 'execa';
import { fileURLToPath } from 'node:url';

jest.setTimeout(900_000);

const script = fileURLToPath(new URL('../../test-vm/vm/ipvs-check.sh', import.meta.url));

test('the IPVS mode balances real TCP traffic over a Service\'s endpoints in the test VM', async () => {
  const r = await execa(script, [], { reject: false, env: { K8TS_VM_TIMEOUT: '300' }, all: true });
  const lines = String(r.all).split('\n').filter((l) => l.startsWith('ipvscheck: '));
  const failed = lines.filter((l) => / FAIL /.test(l));
  // Every step the guest runs must be there and pass (a missing one means the guest died early).
  for (const step of ['endpoints', 'open', 'sync-2-endpoints', 'ipvsadm-shows-2', 'traffic-balanced', 'node-source-masqueraded',
    'pod-source-kept-and-hairpin', 'affinity-sticks', 'stray-port-refused', 'sync-remove-endpoint', 'traffic-one-endpoint',
    'full-resync-is-noop', 'cleanup', 'cleanup-left-nothing']) {
    expect({ step, line: lines.find((l) => l.startsWith(`ipvscheck: ${step} `)) ?? 'missing' }).toEqual({ step, line: expect.stringMatching(/ ok /) });
  }
  expect(failed).toEqual([]);
  expect({ exitCode: r.exitCode, tail: r.exitCode === 0 ? '' : String(r.all).split('\n').slice(-40).join('\n') }).toEqual({ exitCode: 0, tail: '' });
});
