// `k8ts status` against a real kernel: the built command reads a proxy table that `nft` put in a
// network namespace of this test (never the host's) and a config file, as an operator runs it.
import { afterAll, beforeAll, expect, jest, test } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { createNetns, deleteNetns, execInNetns } from '../kernel/netns.js';

jest.setTimeout(60_000);

const ns = `k8ts-t-st${Math.random().toString(16).slice(2, 8)}`;
const dir = mkdtempSync(join(tmpdir(), 'k8ts-status-'));
const main = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

beforeAll(async () => {
  await createNetns(ns);
});
afterAll(async () => {
  await deleteNetns(ns).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

test('k8ts status counts the proxy table\'s chains, rules and elements in the node\'s namespace and shows the config\'s modes', async () => {
  await execInNetns(ns, 'nft', ['-f', '-'], [
    'table ip k8ts-proxy {',
    '  set cluster-ips { type ipv4_addr; elements = { 10.43.0.1, 10.43.0.10 }; }',
    '  chain services {', '    ip daddr @cluster-ips counter', '    ip daddr 10.43.0.1 tcp dport 443 counter', '  }',
    '  chain nat-prerouting {', '    type nat hook prerouting priority dstnat;', '    jump services', '  }',
    '}', '',
  ].join('\n'));
  const config = join(dir, 'config.yaml');
  writeFileSync(config, 'network: vxlan\nproxy-mode: nftables\n');
  const r = await execa(process.execPath, [main, 'status', '--netns', ns, '--config', config, '--kubeconfig', join(dir, 'none.yaml'), '--node-name', 'n1'], { reject: false, all: true });
  expect(r.exitCode).toBe(0);
  expect(r.all).toContain(`config    ${config}: server, network vxlan, proxy nftables\n`);
  expect(r.all).toContain('nftables  table ip k8ts-proxy: 2 chains, 3 rules, 2 set/map elements\n');
  expect(r.all).toContain('node      no kubeconfig and no server in the config: the API was not asked\n');
  // After the table is gone (k8ts-killall.sh), status says so.
  await execInNetns(ns, 'nft', ['delete', 'table', 'ip', 'k8ts-proxy']);
  const after = await execa(process.execPath, [main, 'status', '--netns', ns, '--config', config, '--kubeconfig', join(dir, 'none.yaml'), '--json'], { all: true });
  expect(JSON.parse(after.stdout)).not.toHaveProperty('nftables');
});
