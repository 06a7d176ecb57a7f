import type { Binding, Pod } from 'kubernetes-types/core/v1.js';
import type { FieldError } from '../../../api/errors.js';
import { deepCopy, type KubeObject } from '../../../api/object.js';
import type { RegistryContext } from '../types.js';
import { applyBinding, podQOSClass, podRow, pods, validateBinding, validateEphemeralContainersUpdate } from './pods.js';

const ctx: RegistryContext = { serviceCIDR: '10.43.0.0/16', clusterCIDR: '10.42.0.0/16', nodePortRange: { min: 30000, max: 32767 }, now: () => new Date('2024-01-01T00:00:00Z') };
const now = new Date('2024-01-01T01:00:00Z');
const msgs = (errs: FieldError[]) => errs.map(e => e.message());

function created(p: Partial<Pod> = {}): KubeObject {
  const obj = {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: 'web', namespace: 'default', uid: 'u1', creationTimestamp: '2024-01-01T00:00:00Z', resourceVersion: '1' },
    spec: { containers: [{ name: 'app', image: 'nginx:1.25' }] },
    ...p,
  } as unknown as KubeObject;
  pods.prepareForCreate!(obj);
  pods.applyDefaults!(obj, ctx);
  return obj;
}

describe('pods registry', () => {
  it('describes the resource as upstream', () => {
    expect(pods).toMatchObject({ group: '', version: 'v1', kind: 'Pod', resource: 'pods', namespaced: true, shortNames: ['po'], hasStatusSubresource: true });
    expect(pods.subresources).toEqual(expect.arrayContaining(['status', 'binding', 'eviction', 'log', 'exec', 'attach', 'portforward', 'ephemeralcontainers']));
  });

  it('prepareForCreate sets phase Pending, the QoS class and the admission defaults', () => {
    const obj = created({ status: { phase: 'Running', podIP: '1.2.3.4' } });
    const pod = obj as unknown as Pod;
    expect(pod.status).toEqual({ phase: 'Pending', qosClass: 'BestEffort' });
    expect(pod.spec!.tolerations).toHaveLength(2);
    expect(pod.spec!.priority).toBe(0);
    expect(pod.spec!.serviceAccountName).toBe('default');
    expect(pod.spec!.containers[0]!.imagePullPolicy).toBe('IfNotPresent');
    expect(pods.validate(obj, ctx)).toEqual([]);
  });

  it('marks gated pods SchedulingGated on create', () => {
    const obj = created({ spec: { containers: [{ name: 'app', image: 'x' }], schedulingGates: [{ name: 'example.com/wait' }] } as NonNullable<Pod['spec']> });
    expect((obj as unknown as Pod).status!.conditions).toEqual([
      { type: 'PodScheduled', status: 'False', reason: 'SchedulingGated', message: 'Scheduling is blocked due to non-empty scheduling gates' },
    ]);
  });

  it('computes the QoS class', () => {
    expect(podQOSClass({ containers: [{ name: 'a', resources: { limits: { cpu: '1', memory: '1Gi' } } }] })).toBe('Guaranteed');
    expect(podQOSClass({ containers: [{ name: 'a', resources: { requests: { cpu: '1' } } }] })).toBe('Burstable');
    expect(podQOSClass({ containers: [{ name: 'a', resources: { limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '500m' } } }] })).toBe('Burstable');
    expect(podQOSClass({ containers: [{ name: 'a' }] })).toBe('BestEffort');
  });

  it('validates metadata with a DNS subdomain name', () => {
    const obj = created();
    obj.metadata!.name = 'Web';
    expect(pods.validate(obj, ctx).map(e => e.field)).toEqual(['metadata.name']);
  });

  it('allows image, activeDeadlineSeconds and added tolerations to change', () => {
    const old = created({ spec: { containers: [{ name: 'app', image: 'nginx:1.25' }], activeDeadlineSeconds: 100 } as NonNullable<Pod['spec']> });
    const upd = deepCopy(old);
    const s = (upd as unknown as Pod).spec!;
    s.containers[0]!.image = 'nginx:1.26';
    s.activeDeadlineSeconds = 50;
    s.tolerations!.push({ key: 'x', operator: 'Exists' });
    expect(pods.validateUpdate(upd, old, ctx)).toEqual([]);
  });

  it('forbids other spec changes with upstream message', () => {
    const old = created();
    const upd = deepCopy(old);
    (upd as unknown as Pod).spec!.restartPolicy = 'Never';
    const errs = pods.validateUpdate(upd, old, ctx);
    expect(errs).toHaveLength(1);
    expect(errs[0]!.field).toBe('spec');
    expect(errs[0]!.message()).toMatch(/^spec: Forbidden: pod updates may not change fields other than `spec.containers\[\*\].image`,`spec.initContainers\[\*\].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` \(only additions to existing tolerations\),`spec.terminationGracePeriodSeconds` \(allow it to be set to 1 if it was previously negative\)\n/);
    expect(errs[0]!.message()).toContain('spec.restartPolicy: "Always" -> "Never"');
  });

  it('forbids adding containers, removing tolerations and raising activeDeadlineSeconds', () => {
    const old = created({ spec: { containers: [{ name: 'app', image: 'nginx:1.25' }], activeDeadlineSeconds: 100 } as NonNullable<Pod['spec']> });
    const more = deepCopy(old);
    (more as unknown as Pod).spec!.containers.push({ name: 'b', image: 'x', terminationMessagePolicy: 'File', imagePullPolicy: 'Always' });
    expect(msgs(pods.validateUpdate(more, old, ctx))).toEqual(['spec.containers: Forbidden: pod updates may not add or remove containers']);

    const fewer = deepCopy(old);
    (fewer as unknown as Pod).spec!.tolerations = [];
    expect(msgs(pods.validateUpdate(fewer, old, ctx))).toEqual(['spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds']);

    const later = deepCopy(old);
    (later as unknown as Pod).spec!.activeDeadlineSeconds = 200;
    expect(msgs(pods.validateUpdate(later, old, ctx))).toEqual(['spec.activeDeadlineSeconds: Invalid value: 200: must be less than or equal to previous value']);

    const unset = deepCopy(old);
    delete (unset as unknown as Pod).spec!.activeDeadlineSeconds;
    expect(msgs(pods.validateUpdate(unset, old, ctx))).toEqual(['spec.activeDeadlineSeconds: Invalid value: null: must not update from a positive integer to nil value']);
  });

  it('lets a negative terminationGracePeriodSeconds become 1 and nothing else', () => {
    const old = created({ spec: { containers: [{ name: 'app', image: 'x' }], terminationGracePeriodSeconds: -1 } as NonNullable<Pod['spec']> });
    const ok = deepCopy(old);
    (ok as unknown as Pod).spec!.terminationGracePeriodSeconds = 1;
    expect(pods.validateUpdate(ok, old, ctx)).toEqual([]);
    const bad = deepCopy(old);
    (bad as unknown as Pod).spec!.terminationGracePeriodSeconds = 5;
    expect(pods.validateUpdate(bad, old, ctx).map(e => e.field)).toEqual(['spec']);
  });

  it('allows changing tolerationSeconds of an existing toleration', () => {
    const old = created();
    const upd = deepCopy(old);
    (upd as unknown as Pod).spec!.tolerations![0]!.tolerationSeconds = 10;
    expect(pods.validateUpdate(upd, old, ctx)).toEqual([]);
  });

  it('rejects an emptied or padded image on update', () => {
    const old = created();
    const upd = deepCopy(old);
    (upd as unknown as Pod).spec!.containers[0]!.image = ' nginx';
    expect(msgs(pods.validateUpdate(upd, old, ctx))).toEqual(['spec.containers[0].image: Invalid value: " nginx": must not have leading or trailing whitespace']);
  });

  it('keeps status on main-resource updates', () => {
    const old = created();
    (old as unknown as { status: unknown }).status = { phase: 'Running' };
    const upd = deepCopy(old);
    (upd as unknown as { status: unknown }).status = { phase: 'Failed' };
    pods.prepareForUpdate!(upd, old);
    expect((upd as unknown as Pod).status).toEqual({ phase: 'Running' });
  });

  it('validates status updates', () => {
    const old = created({ spec: { containers: [{ name: 'app', image: 'x' }], restartPolicy: 'Never' } as NonNullable<Pod['spec']> });
    (old as unknown as { status: unknown }).status = { phase: 'Running', containerStatuses: [{ name: 'app', state: { terminated: { exitCode: 1 } } }] };
    const upd = deepCopy(old);
    (upd as unknown as { status: unknown }).status = { phase: 'Running', podIPs: [{ ip: 'nope' }], containerStatuses: [{ name: 'app', state: { running: {} } }] };
    (upd as unknown as Pod).spec!.nodeName = 'n1';
    expect(msgs(pods.validateStatusUpdate!(upd, old, ctx))).toEqual([
      'status.nodeName: Forbidden: may not be changed directly',
      'status.containerStatuses[0].state: Forbidden: may not be transitioned to non-terminated state',
      'status.podIPs[0]: Invalid value: "nope": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
    ]);
  });

  it('binds a pod once', () => {
    const pod = created();
    const binding: Binding = { metadata: { name: 'web' }, target: { kind: 'Node', name: 'n1' } };
    expect(applyBinding(pod, binding, now)).toBeUndefined();
    expect((pod as unknown as Pod).spec!.nodeName).toBe('n1');
    expect((pod as unknown as Pod).status!.conditions).toEqual([{ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: '2024-01-01T01:00:00Z' }]);
    expect(applyBinding(pod, { ...binding, target: { name: 'n2' } }, now)).toBe('pod web is already assigned to node "n1"');
    expect(applyBinding(created(), { metadata: { uid: 'other' }, target: { name: 'n1' } }, now)).toBe('Precondition failed: UID in precondition: other, UID in object meta: u1');
  });

  it('lets ephemeral containers be added but not changed or removed', () => {
    const old = created();
    const added = deepCopy(old) as unknown as Pod;
    added.spec!.ephemeralContainers = [{ name: 'debug', image: 'busybox', terminationMessagePolicy: 'File', imagePullPolicy: 'Always', targetContainerName: 'app' }];
    expect(validateEphemeralContainersUpdate(added as unknown as KubeObject, old)).toEqual([]);
    const changed = deepCopy(added);
    changed.spec!.ephemeralContainers![0]!.image = 'alpine';
    expect(msgs(validateEphemeralContainersUpdate(changed as unknown as KubeObject, added as unknown as KubeObject))).toEqual([
      'spec.ephemeralContainers: Forbidden: existing ephemeral containers "debug" may not be changed\ndebug.image: "busybox" -> "alpine"',
    ]);
    const removed = deepCopy(added);
    removed.spec!.ephemeralContainers = [];
    expect(msgs(validateEphemeralContainersUpdate(removed as unknown as KubeObject, added as unknown as KubeObject))).toEqual([
      'spec.ephemeralContainers: Forbidden: existing ephemeral containers "debug" may not be removed\n',
    ]);
    const withPorts = deepCopy(old) as unknown as Pod;
    withPorts.spec!.ephemeralContainers = [{ name: 'dbg', image: 'b', terminationMessagePolicy: 'File', imagePullPolicy: 'Always', ports: [{ containerPort: 80, protocol: 'TCP' }], targetContainerName: 'nope' }];
    expect(msgs(validateEphemeralContainersUpdate(withPorts as unknown as KubeObject, old))).toEqual([
      'spec.ephemeralContainers[0].targetContainerName: Not found: "nope"',
      'spec.ephemeralContainers[0].ports: Forbidden: cannot be set for an Ephemeral Container',
    ]);
  });

  it('validates bindings', () => {
    expect(validateBinding({ metadata: {}, target: { kind: 'Node', name: 'n1' } })).toEqual([]);
    expect(msgs(validateBinding({ metadata: {}, target: { kind: 'Pod' } }))).toEqual([
      'target.kind: Unsupported value: "Pod": supported values: "Node", "<empty>"', 'target.name: Required value',
    ]);
  });

  it('exposes the field selector attributes', () => {
    const pod = created();
    (pod as unknown as Pod).spec!.nodeName = 'n1';
    (pod as unknown as { status: unknown }).status = { phase: 'Running', podIPs: [{ ip: '10.42.0.5' }], podIP: '10.42.0.5' };
    expect(pods.fieldSelectorAttributes!(pod)).toEqual({
      'spec.nodeName': 'n1', 'spec.restartPolicy': 'Always', 'spec.schedulerName': 'default-scheduler',
      'spec.serviceAccountName': 'default', 'spec.hostNetwork': 'false', 'status.phase': 'Running',
      'status.podIP': '10.42.0.5', 'status.nominatedNodeName': '',
    });
  });
});

describe('pod table', () => {
  const base = (status: NonNullable<Pod['status']>, extra: Partial<Pod> = {}): Pod => ({
    metadata: { name: 'web', creationTimestamp: '2024-01-01T00:00:00Z' },
    spec: { containers: [{ name: 'app', image: 'x' }, { name: 'side', image: 'y' }] },
    status,
    ...extra,
  }) as Pod;

  it('has the upstream columns, NAME first and wide ones at priority 1', () => {
    expect(pods.tableColumns.map(c => [c.name, c.priority])).toEqual([
      ['Name', 0], ['Ready', 0], ['Status', 0], ['Restarts', 0], ['Age', 0],
      ['IP', 1], ['Node', 1], ['Nominated Node', 1], ['Readiness Gates', 1],
    ]);
    expect(pods.tableColumns[0]!.format).toBe('name');
  });

  it('shows a pending pod', () => {
    expect(podRow(base({ phase: 'Pending' }), now)).toEqual(['web', '0/2', 'Pending', '0', '60m', '<none>', '<none>', '<none>', '<none>']);
  });

  it('shows ContainerCreating from a waiting container', () => {
    const row = podRow(base({ phase: 'Pending', containerStatuses: [
      { name: 'app', ready: false, restartCount: 0, image: 'x', imageID: '', state: { waiting: { reason: 'ContainerCreating' } } },
    ] }, { spec: { nodeName: 'n1', containers: [{ name: 'app' }, { name: 'side' }] } }), now);
    expect(row.slice(1, 3)).toEqual(['0/2', 'ContainerCreating']);
    expect(row[6]).toBe('n1');
  });

  it('shows a running, ready pod with its IP', () => {
    const cs = (name: string) => ({ name, ready: true, restartCount: 0, image: '', imageID: '', state: { running: { startedAt: '2024-01-01T00:00:01Z' } } });
    const row = podRow(base({ phase: 'Running', podIPs: [{ ip: '10.42.0.9' }], containerStatuses: [cs('app'), cs('side')] }), now);
    expect(row.slice(0, 6)).toEqual(['web', '2/2', 'Running', '0', '60m', '10.42.0.9']);
  });

  it('shows CrashLoopBackOff with restarts and when the last one was', () => {
    const row = podRow(base({ phase: 'Running', containerStatuses: [
      { name: 'app', ready: false, restartCount: 4, image: '', imageID: '', state: { waiting: { reason: 'CrashLoopBackOff' } }, lastState: { terminated: { exitCode: 1, finishedAt: '2024-01-01T00:58:00Z' } } },
      { name: 'side', ready: true, restartCount: 1, image: '', imageID: '', state: { running: {} }, lastState: { terminated: { exitCode: 1, finishedAt: '2024-01-01T00:30:00Z' } } },
    ] }), now);
    expect(row.slice(1, 4)).toEqual(['1/2', 'CrashLoopBackOff', '5 (2m ago)']);
  });

  it('shows Completed, Error and exit codes of terminated containers', () => {
    const term = (t: object) => ({ name: 'app', ready: false, restartCount: 0, image: '', imageID: '', state: { terminated: { exitCode: 0, ...t } } });
    const one = { spec: { containers: [{ name: 'app' }] } };
    expect(podRow(base({ phase: 'Succeeded', containerStatuses: [term({ reason: 'Completed' })] }, one), now)[2]).toBe('Completed');
    expect(podRow(base({ phase: 'Failed', containerStatuses: [term({ reason: 'Error', exitCode: 2 })] }, one), now)[2]).toBe('Error');
    expect(podRow(base({ phase: 'Failed', containerStatuses: [term({ exitCode: 3 })] }, one), now)[2]).toBe('ExitCode:3');
    expect(podRow(base({ phase: 'Failed', containerStatuses: [term({ exitCode: 137, signal: 9 })] }, one), now)[2]).toBe('Signal:9');
  });

  it('shows Running or NotReady when a container completed but another still runs', () => {
    const status = (ready: boolean): NonNullable<Pod['status']> => ({
      phase: 'Running',
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
      containerStatuses: [
        { name: 'app', ready: true, restartCount: 0, image: '', imageID: '', state: { running: {} } },
        { name: 'side', ready: false, restartCount: 0, image: '', imageID: '', state: { terminated: { exitCode: 0, reason: 'Completed' } } },
      ],
    });
    expect(podRow(base(status(true)), now)[2]).toBe('Running');
    expect(podRow(base(status(false)), now)[2]).toBe('NotReady');
  });

  it('shows init container progress and failures', () => {
    const spec = { initContainers: [{ name: 'i1' }, { name: 'i2' }], containers: [{ name: 'app' }] };
    const ok = { name: 'i1', ready: true, restartCount: 0, image: '', imageID: '', state: { terminated: { exitCode: 0 } } };
    expect(podRow(base({ phase: 'Pending', initContainerStatuses: [ok, { name: 'i2', ready: false, restartCount: 0, image: '', imageID: '', state: { running: {} } }] }, { spec }), now)[2]).toBe('Init:1/2');
    expect(podRow(base({ phase: 'Pending', initContainerStatuses: [{ ...ok, state: { terminated: { exitCode: 1, reason: 'Error' } } }] }, { spec }), now)[2]).toBe('Init:Error');
    expect(podRow(base({ phase: 'Pending', initContainerStatuses: [{ ...ok, state: { terminated: { exitCode: 2 } } }] }, { spec }), now)[2]).toBe('Init:ExitCode:2');
    expect(podRow(base({ phase: 'Pending', initContainerStatuses: [{ ...ok, state: { waiting: { reason: 'CrashLoopBackOff' } } }] }, { spec }), now)[2]).toBe('Init:CrashLoopBackOff');
    expect(podRow(base({ phase: 'Pending', initContainerStatuses: [{ ...ok, state: { waiting: { reason: 'PodInitializing' } } }] }, { spec }), now)[2]).toBe('Init:0/2');
  });

  it('counts sidecars (restartable init containers) in READY', () => {
    const spec = { initContainers: [{ name: 'sc', restartPolicy: 'Always' }], containers: [{ name: 'app' }] };
    const row = podRow(base({
      phase: 'Running', conditions: [{ type: 'Initialized', status: 'True' }],
      initContainerStatuses: [{ name: 'sc', ready: true, started: true, restartCount: 1, image: '', imageID: '', state: { running: {} } }],
      containerStatuses: [{ name: 'app', ready: true, restartCount: 0, image: '', imageID: '', state: { running: {} } }],
    }, { spec }), now);
    expect(row.slice(1, 4)).toEqual(['2/2', 'Running', '1']);
  });

  it('shows Terminating for a deleted pod and Unknown for a lost node', () => {
    const deleting = { metadata: { name: 'web', creationTimestamp: '2024-01-01T00:00:00Z', deletionTimestamp: '2024-01-01T00:59:00Z' } };
    expect(podRow(base({ phase: 'Running' }, deleting), now)[2]).toBe('Terminating');
    expect(podRow(base({ phase: 'Succeeded' }, deleting), now)[2]).toBe('Succeeded');
    expect(podRow(base({ phase: 'Running', reason: 'NodeLost' }, deleting), now)[2]).toBe('Unknown');
  });

  it('shows the status reason (Evicted) and SchedulingGated', () => {
    expect(podRow(base({ phase: 'Failed', reason: 'Evicted' }), now)[2]).toBe('Evicted');
    expect(podRow(base({ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'SchedulingGated' }] }), now)[2]).toBe('SchedulingGated');
  });

  it('shows nominated node and readiness gates when wide', () => {
    const row = podRow(base({ phase: 'Running', nominatedNodeName: 'n2', conditions: [{ type: 'example.com/gate', status: 'True' }] }, {
      spec: { containers: [{ name: 'app' }], readinessGates: [{ conditionType: 'example.com/gate' }, { conditionType: 'example.com/other' }] },
    }), now);
    expect(row.slice(7)).toEqual(['n2', '1/2']);
  });
});
