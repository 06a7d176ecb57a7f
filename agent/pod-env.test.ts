import type { ConfigMap, Pod, Secret } from 'kubernetes-types/core/v1.js';
import { ConfigError, containerArgv, expandVars, fieldValue, formatMap, resolveEnv, resourceFieldValue, type Lookup } from './pod-env.js';

const pod: Pod = { metadata: { name: 'p', namespace: 'ns', uid: 'u1', labels: { app: 'web' } }, spec: { nodeName: 'n1', serviceAccountName: 'sa', containers: [] } };
const lookup: Lookup = {
  configMap: async (_ns, name) => name === 'cfg' ? { data: { color: 'blue', size: 'L' } } as ConfigMap : undefined,
  secret: async (_ns, name) => name === 'sec' ? { data: { pw: Buffer.from('hunter2').toString('base64') } } as Secret : undefined,
};

describe('expandVars', () => {
  it('expands known references, keeps unknown ones and unescapes $$', () => {
    const vars = new Map([['A', 'x']]);
    expect(expandVars('$(A)-$(B)-$$(A)', vars)).toBe('x-$(B)-$(A)');
  });
});

describe('fieldValue', () => {
  it('reads the downward API fields upstream supports', () => {
    expect(fieldValue(pod, 'metadata.name')).toBe('p');
    expect(fieldValue(pod, "metadata.labels['app']")).toBe('web');
    expect(fieldValue(pod, 'spec.nodeName')).toBe('n1');
    expect(fieldValue(pod, 'status.podIP', '10.0.0.1')).toBe('10.0.0.1');
    expect(fieldValue(pod, 'spec.nope')).toBeUndefined();
  });
});

describe('resolveEnv', () => {
  it('orders envFrom before env, resolves keys and field refs, and expands references', async () => {
    const env = await resolveEnv(pod, {
      name: 'c',
      envFrom: [{ configMapRef: { name: 'cfg' }, prefix: 'CM_' }],
      env: [
        { name: 'A', value: 'a' },
        { name: 'PW', valueFrom: { secretKeyRef: { name: 'sec', key: 'pw' } } },
        { name: 'COLOR', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'color' } } },
        { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
        { name: 'B', value: '$(A)-$(COLOR)' },
      ],
    }, lookup);
    expect(env).toEqual(['CM_color=blue', 'CM_size=L', 'A=a', 'PW=hunter2', 'COLOR=blue', 'NODE=n1', 'B=a-blue']);
  });

  it('fails with CreateContainerConfigError for a missing key that is not optional, skips an optional one', async () => {
    await expect(resolveEnv(pod, { name: 'c', env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'nope' } } }] }, lookup)).rejects.toThrow(ConfigError);
    await expect(resolveEnv(pod, { name: 'c', env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'missing', key: 'k', optional: true } } }] }, lookup)).resolves.toEqual([]);
  });
});

describe('containerArgv', () => {
  const image = { entrypoint: ['/entry'], cmd: ['default'], env: [], workingDir: '/' };
  it('is empty (the image default) without command and args', () => {
    expect(containerArgv({ name: 'c' }, image, [])).toEqual([]);
  });
  it('command replaces the entrypoint and drops the image cmd; args replace the cmd only', () => {
    expect(containerArgv({ name: 'c', command: ['sh', '-c'], args: ['echo $(X)'] }, image, ['X=1'])).toEqual(['sh', '-c', 'echo 1']);
    expect(containerArgv({ name: 'c', args: ['x'] }, image, [])).toEqual(['/entry', 'x']);
  });
});

describe('resource field refs', () => {
  const rp: Pod = { metadata: { name: 'p' }, spec: { containers: [
    { name: 'c', resources: { limits: { cpu: '250m', memory: '128Mi' }, requests: { cpu: '100m' } } },
    { name: 'bare' },
  ] } };
  const alloc = { cpu: 2, memory: 8 * 2 ** 30 };
  it('divides by the divisor and rounds up, as upstream (CPU in cores by default, memory in bytes)', () => {
    const v = (resource: string, divisor?: string, container = 'c') => resourceFieldValue(rp, { resource, ...(divisor ? { divisor } : {}) }, alloc, container);
    expect(v('limits.cpu')).toBe('1');
    expect(v('limits.cpu', '1m')).toBe('250');
    expect(v('requests.cpu', '1m')).toBe('100');
    expect(v('limits.memory')).toBe(String(128 * 2 ** 20));
    expect(v('limits.memory', '1Mi')).toBe('128');
    // No request: the limit (API defaulting); no limit: the node's allocatable.
    expect(v('requests.memory', '1Mi')).toBe('128');
    expect(v('limits.cpu', undefined, 'bare')).toBe('2');
    expect(v('limits.memory', '1Gi', 'bare')).toBe('8');
    expect(v('requests.cpu', undefined, 'bare')).toBe('0');
    expect(v('limits.nvidia.com/gpu')).toBeUndefined();
  });
  it('resolves env from resourceFieldRef, and formats label maps for volumes', async () => {
    const env = await resolveEnv(rp, { name: 'c', env: [{ name: 'MEM', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } }] }, lookup, undefined, undefined, alloc);
    expect(env).toEqual(['MEM=128']);
    expect(formatMap({ b: 'x"y', a: '1' })).toBe('a="1"\nb="x\\"y"');
  });
});

