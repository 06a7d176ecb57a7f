// `k8ts agent` runs this node's kube-proxy in its own process, as a k3s agent does: a real agent
// (agent-harness: its node's data plane in a network namespace of the test, never the host's)
// programs the node's nftables table from the API, follows a new Service, and leaves the rules in
// place when it stops (a `systemctl restart k8ts-agent` must not break Services; killall removes
// them). The same in a VM under systemd: test/e2e/join-vm.test.ts.
import { afterAll, beforeAll, expect, jest, test } from '@jest/globals';
import { execa } from 'execa';
import { eventually, TestServer } from './harness.js';
import { startNodeWithAgent, stopNodeWithAgent, type TestAgent } from './agent-harness.js';

jest.setTimeout(180_000);

const server = new TestServer();
let agent: TestAgent | undefined;

beforeAll(async () => { agent = await startNodeWithAgent(server, ['--proxy-mode', 'nftables']); }, 150_000);
afterAll(async () => { await stopNodeWithAgent(server, agent); });

const table = async (): Promise<string> => {
  const r = await execa('ip', ['netns', 'exec', agent!.nodeNetns, 'nft', 'list', 'table', 'ip', 'k8ts-proxy'], { reject: false });
  return r.exitCode === 0 ? r.stdout : '';
};

test('the agent programs its node\'s Services itself, follows a new one, and leaves the rules when it stops', async () => {
  expect(agent!.logs).toContain('kube-proxy is running in this agent');
  const kubernetes = (await server.request('GET', '/api/v1/namespaces/default/services/kubernetes')).body as { spec: { clusterIP: string } };
  await eventually('the kubernetes Service in the node\'s table', async () => ((await table()).includes(kubernetes.spec.clusterIP) ? true : undefined));

  const created = await server.request('POST', '/api/v1/namespaces/default/services', {
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'agent-proxy-web' },
    spec: { selector: { app: 'none' }, ports: [{ port: 8080, targetPort: 80 }] },
  });
  expect(created.status).toBe(201);
  const ip = (created.body as { spec: { clusterIP: string } }).spec.clusterIP;
  await eventually('the new Service in the node\'s table', async () => ((await table()).includes(`${ip} . tcp . 8080`) ? true : undefined));

  await agent!.stop();
  expect(await table()).toContain(`${ip} . tcp . 8080`);
});
