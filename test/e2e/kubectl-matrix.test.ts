// A smoke test of every pinned kubectl minor (1.27 … 1.33) against one server: the discovery,
// OpenAPI, apply, table, patch, scale, explain and delete paths each version takes. Older
// versions ask for different discovery and OpenAPI forms (v2beta1 aggregated discovery, the
// OpenAPI v2 probe), which this catches.
import { jest } from '@jest/globals';
import { TestServer } from './harness.js';

jest.setTimeout(300_000);

// Namespace deletion needs the namespace controller; nothing else reconciles behind the tests.
const server = new TestServer([], undefined, { controllers: 'namespace' });
beforeAll(async () => { await server.start(); });
afterAll(async () => { await server.stop(); });

const minors = [27, 28, 29, 30, 31, 32, 33];

describe.each(minors)('kubectl 1.%i', minor => {
  const ns = `matrix-${minor}`;
  const run = async (args: string[], input?: string) => {
    const r = await server.kubectl(args, { minor, ...(input !== undefined ? { input } : {}) });
    if (r.exitCode !== 0) throw new Error(`kubectl 1.${minor} ${args.join(' ')} failed:\n${r.stderr}`);
    return r.stdout;
  };

  it('applies, reads as a table, patches, scales, explains and deletes', async () => {
    expect(await run(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }))).toContain(`namespace/${ns} created`);
    const deploy = (image: string) => JSON.stringify({
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'app', namespace: ns },
      spec: { replicas: 1, selector: { matchLabels: { app: 'a' } }, template: { metadata: { labels: { app: 'a' } }, spec: { containers: [{ name: 'c', image }] } } },
    });
    expect(await run(['apply', '-f', '-'], deploy('busybox:1'))).toContain('deployment.apps/app created');
    expect(await run(['apply', '-f', '-'], deploy('busybox:2'))).toContain('deployment.apps/app configured');
    expect(await run(['-n', ns, 'get', 'deployments'])).toMatch(/^app\s+0\/1\s+0\s+0\s+\d+s$/m);
    await run(['-n', ns, 'patch', 'deployment', 'app', '--type=merge', '-p', '{"metadata":{"labels":{"patched":"yes"}}}']);
    expect(await run(['-n', ns, 'scale', 'deployment', 'app', '--replicas=2'])).toContain('scaled');
    const d = JSON.parse(await run(['-n', ns, 'get', 'deployment', 'app', '-o', 'json'])) as { spec: { replicas: number; template: { spec: { containers: { image: string }[] } } }; metadata: { labels: Record<string, string> } };
    expect(d.spec.replicas).toBe(2);
    expect(d.spec.template.spec.containers[0]!.image).toBe('busybox:2');
    expect(d.metadata.labels.patched).toBe('yes');
    expect(await run(['explain', 'pod.spec.restartPolicy'])).toMatch(/restartPolicy/);
    expect(await run(['delete', 'namespace', ns, '--timeout=60s'])).toContain(`namespace "${ns}" deleted`);
  });
});

describe('afterwards', () => it('no kubectl version got 406 or 415, or a 404 on discovery or OpenAPI', () => {
  const log = server.requestLog();
  expect(log.filter(e => e.ua?.startsWith('kubectl.1.27') || e.ua?.startsWith('kubectl/v1.27')).length).toBeGreaterThan(10);
  const bad = server.requestLog().filter(e => e.code === 406 || e.code === 415 || (e.code === 404 && /^\/(api|apis|openapi)(\/[^/]+){0,2}$/.test(e.path)));
  expect(bad).toEqual([]);
}));
