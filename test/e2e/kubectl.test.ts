// The real kubectl (pinned 1.32) against a real `k8ts server`: what a user types, checked the way
// a user would read the answer. The request log is checked at the end: nothing kubectl asked for
// may have been answered 406 or 415, and no discovery or OpenAPI path 404.
import { TestServer } from './harness.js';
import { jest } from '@jest/globals';

jest.setTimeout(180_000);


// Namespace deletion needs the namespace controller; nothing else reconciles behind the tests.
const server = new TestServer([], undefined, { controllers: 'namespace' });

beforeAll(async () => { await server.start(); });
afterAll(async () => { await server.stop(); });

async function kubectl(args: string[], input?: string) {
  const r = await server.kubectl(args, input !== undefined ? { input } : {});
  if (r.exitCode !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.exitCode}):\n${r.stderr}\n${r.stdout}`);
  return r.stdout;
}

const deployment = (image: string, replicas = 2, extraPort = false) => `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: e2e
  labels: {app: web, tier: front}
spec:
  replicas: ${replicas}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: ${image}
        ports:
        - containerPort: 80
${extraPort ? '        - containerPort: 443\n' : ''}`;

describe('kubectl 1.32 against k8ts', () => {
  it('reports a server version kubectl understands', async () => {
    const out = JSON.parse(await kubectl(['version', '-o', 'json'])) as { serverVersion: { major: string; minor: string } };
    expect(out.serverVersion).toMatchObject({ major: '1', minor: '32' });
  });

  it('lists the API resources with short names', async () => {
    const out = await kubectl(['api-resources']);
    expect(out).toMatch(/^deployments\s+deploy\s+apps\/v1\s+true\s+Deployment$/m);
    expect(out).toMatch(/^pods\s+po\s+v1\s+true\s+Pod$/m);
    expect(out).toMatch(/^namespaces\s+ns\s+v1\s+false\s+Namespace$/m);
  });

  it('creates a namespace, a configmap and a secret', async () => {
    expect(await kubectl(['create', 'namespace', 'e2e'])).toContain('namespace/e2e created');
    expect(await kubectl(['-n', 'e2e', 'create', 'configmap', 'cfg', '--from-literal=a=1', '--from-literal=b=2'])).toContain('configmap/cfg created');
    expect(await kubectl(['-n', 'e2e', 'create', 'secret', 'generic', 'sec', '--from-literal=password=s3cret'])).toContain('secret/sec created');
    const cm = JSON.parse(await kubectl(['-n', 'e2e', 'get', 'configmap', 'cfg', '-o', 'json'])) as { data: Record<string, string> };
    expect(cm.data).toEqual({ a: '1', b: '2' });
    const secret = JSON.parse(await kubectl(['-n', 'e2e', 'get', 'secret', 'sec', '-o', 'json'])) as { data: Record<string, string>; type: string };
    expect(Buffer.from(secret.data.password!, 'base64').toString()).toBe('s3cret');
    expect(secret.type).toBe('Opaque');
    expect(await kubectl(['get', 'namespaces'])).toMatch(/^e2e\s+Active\s+\d+s$/m);
  });

  it('applies client-side, then applies a change as a strategic merge patch', async () => {
    expect(await kubectl(['apply', '-f', '-'], deployment('nginx:1.25'))).toContain('deployment.apps/web created');
    expect(await kubectl(['apply', '-f', '-'], deployment('nginx:1.26', 3, true))).toContain('deployment.apps/web configured');
    const d = JSON.parse(await kubectl(['-n', 'e2e', 'get', 'deploy', 'web', '-o', 'json'])) as {
      spec: { replicas: number; template: { spec: { containers: { image: string; ports: { containerPort: number }[] }[] } } };
      metadata: { generation: number; annotations: Record<string, string> };
    };
    expect(d.spec.replicas).toBe(3);
    expect(d.spec.template.spec.containers[0]!.image).toBe('nginx:1.26');
    expect(d.spec.template.spec.containers[0]!.ports.map(p => p.containerPort)).toEqual([80, 443]);
    expect(d.metadata.generation).toBe(2);
    expect(d.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']).toContain('nginx:1.26');
    // Unchanged apply: nothing to do.
    expect(await kubectl(['apply', '-f', '-'], deployment('nginx:1.26', 3, true))).toContain('deployment.apps/web unchanged');
  });

  it('rejects unknown fields with a strict decoding error and writes nothing', async () => {
    const bad = deployment('nginx:1.27').replace('replicas: 2', 'replicas: 2\n  replicaz: 3');
    const r = await server.kubectl(['apply', '-f', '-'], { input: bad });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain('unknown field "spec.replicaz"');
    const d = JSON.parse(await kubectl(['-n', 'e2e', 'get', 'deploy', 'web', '-o', 'json'])) as { spec: { template: { spec: { containers: { image: string }[] } } } };
    expect(d.spec.template.spec.containers[0]!.image).toBe('nginx:1.26');
  });

  it('reports every invalid field with its path', async () => {
    const r = await server.kubectl(['-n', 'e2e', 'create', '-f', '-'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'Bad_Name' }, spec: { ports: [{ port: 70000 }] } }),
    });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain('is invalid');
    expect(r.stderr).toContain('metadata.name');
    expect(r.stderr).toContain('spec.ports[0].port');
  });

  it('applies server-side with field ownership and conflicts', async () => {
    const cm = (value: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa, namespace: e2e}\ndata: {key: "${value}"}\n`;
    expect(await kubectl(['apply', '--server-side', '-f', '-'], cm('one'))).toContain('configmap/ssa serverside-applied');
    const conflict = await server.kubectl(['apply', '--server-side', '--field-manager=other', '-f', '-'], { input: cm('two') });
    expect(conflict.exitCode).not.toBe(0);
    expect(conflict.stderr).toMatch(/conflict/i);
    expect(conflict.stderr).toContain('.data.key');
    expect(await kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=other', '-f', '-'], cm('two'))).toContain('serverside-applied');
    const out = JSON.parse(await kubectl(['-n', 'e2e', 'get', 'cm', 'ssa', '-o', 'json', '--show-managed-fields'])) as { data: { key: string }; metadata: { managedFields: { manager: string; operation: string }[] } };
    expect(out.data.key).toBe('two');
    expect(out.metadata.managedFields.map(m => `${m.manager}:${m.operation}`)).toContain('other:Apply');
  });

  it('prints tables, wide tables, yaml, json, and filters by label and field', async () => {
    const table = await kubectl(['-n', 'e2e', 'get', 'deployments']);
    expect(table).toMatch(/^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE$/m);
    expect(table).toMatch(/^web\s+0\/3\s+0\s+0\s+\d+s$/m);
    expect(await kubectl(['-n', 'e2e', 'get', 'deploy', '-o', 'wide'])).toMatch(/^web\s+0\/3\s+0\s+0\s+\d+s\s+web\s+nginx:1.26\s+app=web$/m);
    expect(await kubectl(['-n', 'e2e', 'get', 'deploy', 'web', '-o', 'yaml'])).toMatch(/^kind: Deployment$/m);
    expect(await kubectl(['-n', 'e2e', 'get', 'configmaps', '-l', 'missing=label'])).toBe('');
    expect(await kubectl(['-n', 'e2e', 'get', 'deploy', '-l', 'tier in (front,back)', '-o', 'name'])).toBe('deployment.apps/web');
    expect(await kubectl(['-n', 'e2e', 'get', 'configmaps', '--field-selector', 'metadata.name=cfg', '-o', 'name'])).toBe('configmap/cfg');
    expect(await kubectl(['get', 'configmaps', '-A', '--field-selector', 'metadata.namespace!=e2e', '-o', 'name'])).not.toContain('configmap/cfg');
  });

  it('labels, annotates and describes', async () => {
    expect(await kubectl(['-n', 'e2e', 'label', 'configmap', 'cfg', 'team=blue'])).toContain('configmap/cfg labeled');
    expect(await kubectl(['-n', 'e2e', 'annotate', 'configmap', 'cfg', 'note=hello'])).toContain('configmap/cfg annotated');
    expect(await kubectl(['-n', 'e2e', 'label', 'configmap', 'cfg', 'team-'])).toContain('configmap/cfg unlabeled');
    const described = await kubectl(['-n', 'e2e', 'describe', 'configmap', 'cfg']);
    expect(described).toMatch(/^Name:\s+cfg$/m);
    expect(described).toMatch(/^Annotations:\s+note: hello$/m);
    expect(await kubectl(['-n', 'e2e', 'describe', 'deployment', 'web'])).toMatch(/^Replicas:\s+3 desired/m);
  });

  it('patches with all three patch types', async () => {
    await kubectl(['-n', 'e2e', 'patch', 'configmap', 'cfg', '--type=merge', '-p', '{"data":{"c":"3"}}']);
    await kubectl(['-n', 'e2e', 'patch', 'configmap', 'cfg', '--type=json', '-p', '[{"op":"remove","path":"/data/a"}]']);
    await kubectl(['-n', 'e2e', 'patch', 'deployment', 'web', '-p', '{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.27"}]}}}}']);
    const cm = JSON.parse(await kubectl(['-n', 'e2e', 'get', 'cm', 'cfg', '-o', 'json'])) as { data: Record<string, string> };
    expect(cm.data).toEqual({ b: '2', c: '3' });
    const d = JSON.parse(await kubectl(['-n', 'e2e', 'get', 'deploy', 'web', '-o', 'json'])) as { spec: { template: { spec: { containers: { name: string; image: string; ports: unknown[] }[] } } } };
    expect(d.spec.template.spec.containers).toHaveLength(1);
    expect(d.spec.template.spec.containers[0]).toMatchObject({ name: 'web', image: 'nginx:1.27' });
    expect(d.spec.template.spec.containers[0]!.ports).toHaveLength(2); // merged by name, ports kept
    const failed = await server.kubectl(['-n', 'e2e', 'patch', 'configmap', 'cfg', '--type=json', '-p', '[{"op":"test","path":"/data/b","value":"nope"}]']);
    expect(failed.exitCode).not.toBe(0);
  });

  it('scales through the scale subresource', async () => {
    expect(await kubectl(['-n', 'e2e', 'scale', 'deployment', 'web', '--replicas=5'])).toContain('deployment.apps/web scaled');
    const d = JSON.parse(await kubectl(['-n', 'e2e', 'get', 'deploy', 'web', '-o', 'json'])) as { spec: { replicas: number } };
    expect(d.spec.replicas).toBe(5);
  });

  it('shows a diff against the live object', async () => {
    const r = await server.kubectl(['diff', '-f', '-'], { input: deployment('nginx:1.28', 5, true) });
    expect(r.exitCode).toBe(1); // 1 = differences found
    expect(r.stdout).toMatch(/^-\s+- image: nginx:1\.27$/m);
    expect(r.stdout).toMatch(/^\+\s+- image: nginx:1\.28$/m);
  });

  it('explains fields from the OpenAPI schemas', async () => {
    const out = await kubectl(['explain', 'deployment.spec.replicas']);
    expect(out).toMatch(/FIELD:\s+replicas <integer>/);
    expect(out).toMatch(/Number of desired pods/);
  });

  it('watches and sees a change', async () => {
    const watcher = server.kubectl(['-n', 'e2e', 'get', 'configmaps', '-w', '--output-watch-events', '--request-timeout=8s'], { timeoutMs: 20_000 });
    await new Promise(r => setTimeout(r, 1500));
    await kubectl(['-n', 'e2e', 'create', 'configmap', 'watched', '--from-literal=x=y']);
    const r = await watcher;
    expect(r.stdout).toMatch(/^ADDED\s+watched\s+1\s+\d+s$/m);
  });

  it('deletes, and waits for the deletion', async () => {
    const waiter = server.kubectl(['-n', 'e2e', 'wait', '--for=delete', 'configmap/watched', '--timeout=30s']);
    await new Promise(r => setTimeout(r, 1000));
    expect(await kubectl(['-n', 'e2e', 'delete', 'configmap', 'watched'])).toContain('configmap "watched" deleted');
    const r = await waiter;
    expect(r.exitCode).toBe(0);
    const gone = await server.kubectl(['-n', 'e2e', 'get', 'configmap', 'watched']);
    expect(gone.stderr).toContain('configmaps "watched" not found');
  });

  it('deletes a namespace with everything in it', async () => {
    expect(await kubectl(['delete', 'namespace', 'e2e', '--timeout=60s'])).toContain('namespace "e2e" deleted');
    const r = await server.kubectl(['get', 'namespace', 'e2e']);
    expect(r.stderr).toContain('namespaces "e2e" not found');
    expect(await kubectl(['get', 'deployments', '-A', '-o', 'name'])).toBe('');
  });

  it('answered nothing kubectl asked with 406 or 415, and no discovery or OpenAPI path with 404', () => {
    const log = server.requestLog();
    expect(log.length).toBeGreaterThan(50);
    const bad = log.filter(e => e.code === 406 || e.code === 415 || (e.code === 404 && /^\/(api|apis|openapi)(\/[^/]+){0,2}$/.test(e.path) && !e.path.includes('namespaces')));
    expect(bad).toEqual([]);
  });
});
