import type { Container, PodSpec, PodTemplateSpec } from 'kubernetes-types/core/v1.js';
import { FieldPath, type FieldError } from '../../../api/errors.js';
import {
  addServiceAccountTokenVolume, applyPodAdmissionDefaults, applyPodOnlyDefaults, applyPodSpecDefaults, defaultPullPolicy, validatePodSpec, validatePodTemplateSpec,
  validateResourceRequirements, validateTolerations,
} from './podspec.js';

const spec = FieldPath.root('spec');
const msgs = (errs: FieldError[]) => errs.map(e => e.message());

function validSpec(extra: Partial<PodSpec> = {}, container: Partial<Container> = {}): PodSpec {
  const s: PodSpec = { containers: [{ name: 'app', image: 'nginx:1.25', ...container }], ...extra };
  applyPodSpecDefaults(s);
  applyPodOnlyDefaults(s);
  return s;
}

describe('pod spec defaulting', () => {
  it('picks the pull policy from the tag', () => {
    expect(defaultPullPolicy('nginx')).toBe('Always');
    expect(defaultPullPolicy('nginx:latest')).toBe('Always');
    expect(defaultPullPolicy('nginx:1.25')).toBe('IfNotPresent');
    expect(defaultPullPolicy('registry:5000/nginx')).toBe('Always');
    expect(defaultPullPolicy('registry:5000/nginx:1')).toBe('IfNotPresent');
    expect(defaultPullPolicy('nginx@sha256:abc')).toBe('IfNotPresent');
    expect(defaultPullPolicy('nginx:latest@sha256:abc')).toBe('Always');
  });

  it('fills the spec and container defaults as upstream', () => {
    const s: PodSpec = {
      containers: [{
        name: 'app', image: 'nginx', ports: [{ containerPort: 80 }],
        livenessProbe: { httpGet: { port: 80 } },
        readinessProbe: { tcpSocket: { port: 80 }, periodSeconds: 5 },
        resources: { limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '0.5' } },
        env: [{ name: 'N', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
      }],
      volumes: [{ name: 'a' }, { name: 's', secret: { secretName: 'x' } }, { name: 'c', configMap: { name: 'y' } }],
    };
    applyPodSpecDefaults(s);
    expect(s.enableServiceLinks).toBeUndefined();
    expect(s.containers[0]!.resources!.requests).toEqual({ cpu: '500m' });
    applyPodOnlyDefaults(s);
    expect(s).toMatchObject({
      restartPolicy: 'Always', dnsPolicy: 'ClusterFirst', schedulerName: 'default-scheduler',
      terminationGracePeriodSeconds: 30, securityContext: {}, enableServiceLinks: true,
    });
    const c = s.containers[0]!;
    expect(c).toMatchObject({ terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File', imagePullPolicy: 'Always' });
    expect(c.ports![0]!.protocol).toBe('TCP');
    expect(c.livenessProbe).toEqual({ httpGet: { port: 80, path: '/', scheme: 'HTTP' }, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 });
    expect(c.readinessProbe!.periodSeconds).toBe(5);
    expect(c.resources!.requests).toEqual({ cpu: '500m', memory: '1Gi' });
    expect(c.env![0]!.valueFrom!.fieldRef!.apiVersion).toBe('v1');
    expect(s.volumes![0]!.emptyDir).toEqual({});
    expect(s.volumes![1]!.secret!.defaultMode).toBe(420);
    expect(s.volumes![2]!.configMap!.defaultMode).toBe(420);
  });

  it('defaults hostPort to containerPort on the host network', () => {
    const s: PodSpec = { hostNetwork: true, containers: [{ name: 'a', image: 'x', ports: [{ containerPort: 53 }] }] };
    applyPodSpecDefaults(s);
    applyPodOnlyDefaults(s);
    expect(s.containers[0]!.ports![0]!.hostPort).toBe(53);
  });

  it('adds the not-ready and unreachable tolerations once, priority 0 and the default service account', () => {
    const s: PodSpec = { containers: [] };
    applyPodAdmissionDefaults(s);
    expect(s.tolerations).toEqual([
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    ]);
    expect(s.priority).toBe(0);
    expect(s.serviceAccountName).toBe('default');
    expect(s.serviceAccount).toBe('default');
    applyPodAdmissionDefaults(s);
    expect(s.tolerations).toHaveLength(2);
    const tolerant: PodSpec = { containers: [], tolerations: [{ operator: 'Exists' }] };
    applyPodAdmissionDefaults(tolerant);
    expect(tolerant.tolerations).toEqual([{ operator: 'Exists' }]);
  });

  it('uses the configured default toleration seconds, each for its own taint', () => {
    const s: PodSpec = { containers: [], tolerations: [{ key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 7 }] };
    applyPodAdmissionDefaults(s, { notReady: 60, unreachable: 30 });
    expect(s.tolerations).toEqual([
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 7 },
      { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 60 },
    ]);
    const t: PodSpec = { containers: [] };
    applyPodAdmissionDefaults(t, { notReady: 0, unreachable: 30 });
    expect(t.tolerations!.map(x => x.tolerationSeconds)).toEqual([0, 30]);
  });
});

describe('addServiceAccountTokenVolume', () => {
  it('adds the projected kube-api-access volume and mounts it read-only', () => {
    const s = validSpec();
    s.initContainers = [{ name: 'init', image: 'x', terminationMessagePolicy: 'File', imagePullPolicy: 'Always', volumeMounts: [{ name: 'own', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }] }];
    s.volumes = [{ name: 'own', emptyDir: {} }];
    expect(addServiceAccountTokenVolume(s, 'abcde')).toBe('kube-api-access-abcde');
    expect(s.volumes[1]!.projected!.sources!.map(x => Object.keys(x)[0])).toEqual(['serviceAccountToken', 'configMap', 'downwardAPI']);
    expect(s.containers[0]!.volumeMounts).toEqual([{ name: 'kube-api-access-abcde', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }]);
    expect(s.initContainers[0]!.volumeMounts).toHaveLength(1);
    expect(validatePodSpec(s, spec)).toEqual([]);
  });

  it('does nothing when automount is off', () => {
    const s = validSpec({ automountServiceAccountToken: false });
    expect(addServiceAccountTokenVolume(s, 'abcde')).toBeUndefined();
    expect(s.volumes).toBeUndefined();
  });
});

describe('validatePodSpec', () => {
  it('accepts a defaulted minimal spec', () => {
    expect(validatePodSpec(validSpec(), spec)).toEqual([]);
  });

  it('requires containers, names and images', () => {
    expect(msgs(validatePodSpec({ containers: [], restartPolicy: 'Always', dnsPolicy: 'ClusterFirst' }, spec))).toEqual(['spec.containers: Required value']);
    const s = validSpec({}, { name: '', image: '' });
    expect(msgs(validatePodSpec(s, spec))).toEqual(['spec.containers[0].name: Required value', 'spec.containers[0].image: Required value']);
  });

  it('rejects bad and duplicate container names, across init containers too', () => {
    const s = validSpec();
    s.containers.push({ ...s.containers[0]!, name: 'app' }, { ...s.containers[0]!, name: 'Bad_Name' });
    s.initContainers = [{ ...s.containers[0]!, name: 'app' }];
    const errs = validatePodSpec(s, spec);
    expect(errs.map(e => [e.type, e.field])).toEqual([
      ['FieldValueDuplicate', 'spec.containers[1].name'],
      ['FieldValueInvalid', 'spec.containers[2].name'],
      ['FieldValueDuplicate', 'spec.initContainers[0].name'],
    ]);
    expect(errs[0]!.message()).toBe('spec.containers[1].name: Duplicate value: "app"');
  });

  it('validates container ports', () => {
    const s = validSpec({}, { ports: [
      { containerPort: 0, protocol: 'TCP' }, { containerPort: 70000, protocol: 'TCP' }, { containerPort: 80, name: 'http', protocol: 'ICMP' },
      { containerPort: 81, name: 'http', protocol: 'TCP', hostPort: 99999 },
    ] });
    expect(msgs(validatePodSpec(s, spec))).toEqual([
      'spec.containers[0].ports[0].containerPort: Required value',
      'spec.containers[0].ports[1].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive',
      'spec.containers[0].ports[2].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
      'spec.containers[0].ports[3].name: Duplicate value: "http"',
      'spec.containers[0].ports[3].hostPort: Invalid value: 99999: must be between 1 and 65535, inclusive',
    ]);
  });

  it('validates env names and sources', () => {
    const s = validSpec({}, { env: [
      { name: '' }, { name: '1BAD' }, { name: 'A', value: 'x', valueFrom: { configMapKeyRef: { name: 'c', key: 'k' } } },
      { name: 'B', valueFrom: {} }, { name: 'C', valueFrom: { secretKeyRef: { name: 's', key: '' } } },
    ] });
    const errs = validatePodSpec(s, spec);
    expect(errs.map(e => e.field)).toEqual([
      'spec.containers[0].env[0].name', 'spec.containers[0].env[1].name', 'spec.containers[0].env[2].valueFrom',
      'spec.containers[0].env[3].valueFrom', 'spec.containers[0].env[4].valueFrom.secretKeyRef.key',
    ]);
    expect(errs[2]!.detail).toBe('may not be specified when `value` is not empty');
    expect(errs[3]!.detail).toBe('must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`');
  });

  it('validates envFrom', () => {
    const s = validSpec({}, { envFrom: [{ configMapRef: { name: 'cfg' }, prefix: 'APP_' }, {}, { configMapRef: { name: 'a' }, secretRef: { name: 'b' } }, { prefix: '1X', secretRef: { name: 'S' } }] });
    expect(validatePodSpec(s, spec).map(e => [e.field, e.detail.slice(0, 40)])).toEqual([
      ['spec.containers[0].envFrom[1]', 'must specify one of: `configMapRef` or `'],
      ['spec.containers[0].envFrom[2]', 'may not have more than one field specifi'],
      ['spec.containers[0].envFrom[3].prefix', 'a valid environment variable name must c'],
      ['spec.containers[0].envFrom[3].secretRef.name', 'a lowercase RFC 1123 subdomain must cons'],
    ]);
  });

  it('validates downward API env field paths', () => {
    const s = validSpec({}, { env: [
      { name: 'A', valueFrom: { fieldRef: { fieldPath: 'metadata.labels[\'app\']' } } },
      { name: 'B', valueFrom: { fieldRef: { fieldPath: 'spec.hostname' } } },
      { name: 'C', valueFrom: { fieldRef: { fieldPath: 'metadata.labels' } } },
      { name: 'D', valueFrom: { fieldRef: { fieldPath: 'metadata.name[\'x\']' } } },
    ] });
    expect(msgs(validatePodSpec(s, spec))).toEqual([
      'spec.containers[0].env[1].valueFrom.fieldRef.fieldPath: Unsupported value: "spec.hostname": supported values: "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"',
      'spec.containers[0].env[2].valueFrom.fieldRef.fieldPath: Unsupported value: "metadata.labels": supported values: "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"',
      'spec.containers[0].env[3].valueFrom.fieldRef: Invalid value: "metadata.name": does not support subscript',
    ]);
  });

  it('checks volume mounts against the volumes', () => {
    const s = validSpec({ volumes: [{ name: 'data', emptyDir: {} }] }, { volumeMounts: [
      { name: 'data', mountPath: '/data' }, { name: 'missing', mountPath: '/m' }, { name: 'data', mountPath: '/data' },
      { name: 'data', mountPath: '/x', subPath: '../up' },
    ] });
    expect(msgs(validatePodSpec(s, spec))).toEqual([
      'spec.containers[0].volumeMounts[1].name: Not found: "missing"',
      'spec.containers[0].volumeMounts[2].mountPath: Invalid value: "/data": must be unique',
      'spec.containers[0].volumeMounts.subPath: Invalid value: "../up": must not contain \'..\'',
    ]);
  });

  it('requires exactly one source per volume and unique names', () => {
    const s = validSpec({ volumes: [
      { name: 'a', emptyDir: {}, hostPath: { path: '/x' } }, { name: 'b' } as never, { name: 'c', emptyDir: {} }, { name: 'c', emptyDir: {} },
      { name: 'd', secret: {} }, { name: 'e', configMap: {} as never }, { name: 'f', persistentVolumeClaim: { claimName: '' } },
      { name: 'g', hostPath: { path: '' } }, { name: 'h', secret: { secretName: 's', defaultMode: 0o1000 } },
    ] });
    delete (s.volumes![1] as unknown as Record<string, unknown>)['emptyDir'];
    expect(msgs(validatePodSpec(s, spec))).toEqual([
      'spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type',
      'spec.volumes[1]: Required value: must specify a volume type',
      'spec.volumes[3].name: Duplicate value: "c"',
      'spec.volumes[4].secret.secretName: Required value',
      'spec.volumes[5].configMap.name: Required value',
      'spec.volumes[6].persistentVolumeClaim.claimName: Required value',
      'spec.volumes[7].hostPath.path: Required value',
      'spec.volumes[8].secret.defaultMode: Invalid value: 512: must be a number between 0 and 0777 (octal), both inclusive',
    ]);
  });

  it('checks restartPolicy, dnsPolicy and imagePullPolicy values', () => {
    const s = validSpec({}, { imagePullPolicy: 'Sometimes' });
    s.restartPolicy = 'Maybe';
    s.dnsPolicy = 'Other';
    expect(msgs(validatePodSpec(s, spec))).toEqual([
      'spec.containers[0].imagePullPolicy: Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never"',
      'spec.restartPolicy: Unsupported value: "Maybe": supported values: "Always", "OnFailure", "Never"',
      'spec.dnsPolicy: Unsupported value: "Other": supported values: "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"',
    ]);
  });

  it('validates probes', () => {
    const s = validSpec({}, {
      livenessProbe: { successThreshold: 2, exec: { command: ['true'] } },
      readinessProbe: {},
      startupProbe: { exec: { command: ['a'] }, httpGet: { port: 80, path: '/' } },
    });
    expect(msgs(validatePodSpec(s, spec))).toEqual([
      'spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1',
      'spec.containers[0].readinessProbe: Required value: must specify a handler type',
      'spec.containers[0].startupProbe.httpGet: Forbidden: may not specify more than 1 handler type',
    ]);
  });

  it('requires requests to stay within limits', () => {
    const path = FieldPath.root('r');
    expect(validateResourceRequirements({ requests: { cpu: '500m' }, limits: { cpu: '1' } }, path)).toEqual([]);
    expect(msgs(validateResourceRequirements({ requests: { cpu: '2', memory: '1Gi' }, limits: { cpu: '1', memory: '512Mi' } }, path))).toEqual([
      'r.requests: Invalid value: "2": must be less than or equal to cpu limit of 1',
      'r.requests: Invalid value: "1Gi": must be less than or equal to memory limit of 512Mi',
    ]);
    expect(msgs(validateResourceRequirements({ requests: { 'example.com/gpu': '1' } }, path))).toEqual(['r.limits: Required value: Limit must be set for non overcommitable resources']);
    expect(msgs(validateResourceRequirements({ limits: { disks: '1' } }, path))).toEqual([
      'r.limits[disks]: Invalid value: "disks": must be a standard resource type or fully qualified',
      'r.limits[disks]: Invalid value: "disks": must be a standard resource for containers',
    ]);
    expect(msgs(validateResourceRequirements({ limits: { 'example.com/gpu': '0.5' }, requests: { 'example.com/gpu': '0.5' } }, path))).toEqual([
      'r.limits[example.com/gpu]: Invalid value: "500m": must be an integer',
      'r.requests[example.com/gpu]: Invalid value: "500m": must be an integer',
    ]);
    expect(msgs(validateResourceRequirements({ limits: { cpu: '-1' } }, path))).toEqual(['r.limits[cpu]: Invalid value: "-1": must be greater than or equal to 0']);
  });

  it('validates tolerations', () => {
    const path = FieldPath.root('spec').child('tolerations');
    expect(msgs(validateTolerations([
      { key: '', operator: 'Equal', value: 'x' },
      { key: 'k', operator: 'Exists', value: 'v' },
      { key: 'k', operator: 'Equal', value: 'v', effect: 'NoSchedule', tolerationSeconds: 5 },
      { key: 'k', operator: 'Like' },
      { key: 'k', effect: 'Sometimes' },
    ], path))).toEqual([
      'spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when `key` is empty, which means "match all values and all keys"',
      'spec.tolerations[1].operator: Invalid value: {"key":"k","operator":"Exists","value":"v"}: value must be empty when `operator` is \'Exists\'',
      'spec.tolerations[2].effect: Invalid value: "NoSchedule": effect must be \'NoExecute\' when `tolerationSeconds` is set',
      'spec.tolerations[3].operator: Unsupported value: "Like": supported values: "Equal", "Exists"',
      'spec.tolerations[4].effect: Unsupported value: "Sometimes": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"',
    ]);
  });

  it('checks node name, service account, hostname and activeDeadlineSeconds', () => {
    const s = validSpec({ nodeName: 'Node_1', serviceAccountName: 'a b', hostname: 'h.x', activeDeadlineSeconds: 0 });
    expect(validatePodSpec(s, spec).map(e => e.field)).toEqual(['spec.serviceAccountName', 'spec.nodeName', 'spec.activeDeadlineSeconds', 'spec.hostname']);
  });

  it('rejects host port conflicts across containers', () => {
    const s = validSpec({}, { ports: [{ containerPort: 80, hostPort: 8080, protocol: 'TCP' }] });
    s.containers.push({ ...s.containers[0]!, name: 'b' });
    expect(msgs(validatePodSpec(s, spec))).toEqual(['spec.containers[1].ports[0].hostPort: Duplicate value: "/TCP/8080"']);
  });

  it('requires hostPort to match containerPort on the host network', () => {
    const s = validSpec({ hostNetwork: true }, { ports: [{ containerPort: 80, hostPort: 8080, protocol: 'TCP' }] });
    expect(msgs(validatePodSpec(s, spec))).toEqual(['spec.containers[0].ports[0].hostPort: Invalid value: 8080: must match `containerPort` when `hostNetwork` is true']);
  });
});

describe('validatePodTemplateSpec', () => {
  it('reports template labels on <path>.labels and forbids ephemeral containers', () => {
    const t: PodTemplateSpec = { metadata: { labels: { 'a b': 'x' } }, spec: validSpec() };
    t.spec!.ephemeralContainers = [{ name: 'dbg', image: 'busybox', terminationMessagePolicy: 'File', imagePullPolicy: 'Always' }];
    const errs = validatePodTemplateSpec(t, FieldPath.root('spec').child('template'));
    expect(errs.map(e => e.field)).toEqual(['spec.template.labels', 'spec.template.spec.ephemeralContainers']);
  });
});
