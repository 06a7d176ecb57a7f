import { errors, StatusError } from '../errors.js';
import type { KubeObject } from '../object.js';
import { schemas } from '../schema/index.js';
import { decodeKubernetesProtobuf, readEnvelope, schemaNameForApiVersion as nameFor } from './decode.js';
import { encodeKubernetesProtobuf, encodeMessage, ProtoWriter } from './encode.js';
import { catchStatusError } from '../testing/status.js';

const decode = (body: Uint8Array): KubeObject => decodeKubernetesProtobuf(body, nameFor, schemas);
const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));

/** A JSON object as it travels (with `creationTimestamp: null`, which KubeObject's types forbid). */
type Json = Record<string, unknown>;

/** Encodes `obj` with the test encoder, decodes it back, and returns the result. */
function roundTrip(obj: Json): KubeObject {
  const { apiVersion, kind } = obj as { apiVersion: string; kind: string };
  const name = nameFor(apiVersion, kind);
  if (name === undefined) throw new Error(`no schema for ${apiVersion} ${kind}`);
  return decode(encodeKubernetesProtobuf(obj as KubeObject, name, schemas));
}

/** The envelope around a hand-written message, as client-go writes it. */
function envelope(apiVersion: string, kind: string, raw: Uint8Array, contentType = ''): Uint8Array {
  const typeMeta = new ProtoWriter().string(1, apiVersion).string(2, kind).finish();
  const unknown = new ProtoWriter().bytes(1, typeMeta).bytes(2, raw).string(3, '').string(4, contentType).finish();
  return Uint8Array.from([0x6b, 0x38, 0x73, 0x00, ...unknown]);
}

// Request bodies captured from the real kubectl 1.32 (tools/capture-kubectl-body.mjs), each with
// the JSON the same command prints with `--dry-run=client -o json`: what the JSON path carries.
const KUBECTL_1_32: { command: string; hex: string; json: Json }[] = [
  {
    command: 'create namespace e2e',
    hex:
      '6b3873000a0f0a02763112094e616d657370616365121b0a130a0365326512001a0022002a0032003800420012001a02' +
      '0a001a002200',
    json: {"kind":"Namespace","apiVersion":"v1","metadata":{"name":"e2e","creationTimestamp":null},"spec":{},"status":{}},
  },
  {
    command: 'create configmap game-config -n default --from-literal=player=alice --from-literal=lives=3',
    hex:
      '6b3873000a0f0a0276311209436f6e6669674d617012410a220a0b67616d652d636f6e66696712001a0764656661756c' +
      '7422002a00320038004200120a0a056c69766573120133120f0a06706c617965721205616c6963651a002200',
    json: {"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"game-config","namespace":"default","creationTimestamp":null},"data":{"lives":"3","player":"alice"}},
  },
  {
    command: 'create configmap blobs -n default --from-file=bin=FILE --from-literal=text=hello (FILE holds 00 ff fe " binary\\n")',
    hex:
      '6b3873000a0f0a0276311209436f6e6669674d617012410a1c0a05626c6f627312001a0764656661756c7422002a0032' +
      '0038004200120d0a0474657874120568656c6c6f1a120a0362696e120b00fffe2062696e6172790a1a002200',
    json: {"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"blobs","namespace":"default","creationTimestamp":null},"data":{"text":"hello"},"binaryData":{"bin":"AP/+IGJpbmFyeQo="}},
  },
  {
    command: 'create secret generic db-pass -n default --from-literal=password=s3cr3t! --from-literal=user=admin',
    hex:
      '6b3873000a0c0a027631120653656372657412460a1e0a0764622d7061737312001a0764656661756c7422002a003200' +
      '3800420012130a0870617373776f7264120773336372337421120d0a0475736572120561646d696e1a001a002200',
    json: {"kind":"Secret","apiVersion":"v1","metadata":{"name":"db-pass","namespace":"default","creationTimestamp":null},"data":{"password":"czNjcjN0IQ==","user":"YWRtaW4="}},
  },
  {
    command: 'create deployment web -n default --image=nginx --replicas=2 --port=80',
    hex:
      '6b3873000a150a07617070732f7631120a4465706c6f796d656e7412bf010a260a0377656212001a0764656661756c74' +
      '22002a003200380042005a0a0a0361707012037765621286010802120c0a0a0a0361707012037765621a6c0a1c0a0012' +
      '001a0022002a003200380042005a0a0a036170701203776562124c122e0a056e67696e7812056e67696e782a00320a0a' +
      '001000185022002a0042006a007200800100880100900100a201001a00320042004a0052005800600068008201008a01' +
      '009a0100c2010022020a00280038001a0c0800100018002000280038001a002200',
    json: {"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"web","namespace":"default","creationTimestamp":null,"labels":{"app":"web"}},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"creationTimestamp":null,"labels":{"app":"web"}},"spec":{"containers":[{"name":"nginx","image":"nginx","ports":[{"containerPort":80}],"resources":{}}]}},"strategy":{}},"status":{}},
  },
  {
    command: 'create service clusterip web -n default --tcp=80:8080',
    hex:
      '6b3873000a0d0a02763112075365727669636512700a260a0377656212001a0764656661756c7422002a003200380042' +
      '005a0a0a03617070120377656212420a1b0a0738302d38303830120354435018502207080010903f1a002800120a0a03' +
      '61707012037765621a002209436c757374657249503a00420052005a00600068001a020a001a002200',
    json: {"kind":"Service","apiVersion":"v1","metadata":{"name":"web","namespace":"default","creationTimestamp":null,"labels":{"app":"web"}},"spec":{"ports":[{"name":"80-8080","protocol":"TCP","port":80,"targetPort":8080}],"selector":{"app":"web"},"type":"ClusterIP"},"status":{"loadBalancer":{}}},
  },
  {
    command: 'create service nodeport named -n default --tcp=80:http --node-port=30080',
    hex:
      '6b3873000a0d0a027631120753657276696365127a0a2a0a056e616d656412001a0764656661756c7422002a00320038' +
      '0042005a0c0a0361707012056e616d656412480a200a0738302d6874747012035443501850220a080110001a04687474' +
      '702880eb01120c0a0361707012056e616d65641a0022084e6f6465506f72743a00420052005a00600068001a020a001a' +
      '002200',
    json: {"kind":"Service","apiVersion":"v1","metadata":{"name":"named","namespace":"default","creationTimestamp":null,"labels":{"app":"named"}},"spec":{"ports":[{"name":"80-http","protocol":"TCP","port":80,"targetPort":"http","nodePort":30080}],"selector":{"app":"named"},"type":"NodePort"},"status":{"loadBalancer":{}}},
  },
  {
    command: 'create cronjob tick -n default --image=busybox --schedule="*/5 * * * *" -- date',
    hex:
      '6b3873000a130a0862617463682f7631120743726f6e4a6f6212b1010a1b0a047469636b12001a0764656661756c7422' +
      '002a00320038004200128f010a0b2a2f35202a202a202a202a1a002a7e0a140a047469636b12001a0022002a00320038' +
      '004200126632640a100a0012001a0022002a00320038004200125012290a047469636b120762757379626f781a046461' +
      '74652a0042006a007200800100880100900100a201001a094f6e4661696c757265320042004a00520058006000680082' +
      '01008a01009a0100c201001a001a002200',
    json: {"kind":"CronJob","apiVersion":"batch/v1","metadata":{"name":"tick","namespace":"default","creationTimestamp":null},"spec":{"schedule":"*/5 * * * *","jobTemplate":{"metadata":{"name":"tick","creationTimestamp":null},"spec":{"template":{"metadata":{"creationTimestamp":null},"spec":{"containers":[{"name":"tick","image":"busybox","command":["date"],"resources":{}}],"restartPolicy":"OnFailure"}}}}},"status":{}},
  },
  {
    command: 'create job once -n default --image=busybox -- echo hi',
    hex:
      '6b3873000a0f0a0862617463682f763112034a6f62128f010a1b0a046f6e636512001a0764656661756c7422002a0032' +
      '0038004200126632640a100a0012001a0022002a003200380042001250122d0a046f6e6365120762757379626f781a04' +
      '6563686f1a0268692a0042006a007200800100880100900100a201001a054e65766572320042004a0052005800600068' +
      '008201008a01009a0100c201001a082000280030003a001a002200',
    json: {"kind":"Job","apiVersion":"batch/v1","metadata":{"name":"once","namespace":"default","creationTimestamp":null},"spec":{"template":{"metadata":{"creationTimestamp":null},"spec":{"containers":[{"name":"once","image":"busybox","command":["echo","hi"],"resources":{}}],"restartPolicy":"Never"}}},"status":{}},
  },
  {
    command: 'create serviceaccount robot -n default',
    hex:
      '6b3873000a140a027631120e536572766963654163636f756e74121e0a1c0a05726f626f7412001a0764656661756c74' +
      '22002a003200380042001a002200',
    json: {"kind":"ServiceAccount","apiVersion":"v1","metadata":{"name":"robot","namespace":"default","creationTimestamp":null}},
  },
  {
    command: 'create ingress simple -n default --rule=foo.com/bar=svc1:8080',
    hex:
      '6b3873000a1f0a146e6574776f726b696e672e6b38732e696f2f76311207496e677265737312540a1d0a0673696d706c' +
      '6512001a0764656661756c7422002a00320038004200122f1a2d0a07666f6f2e636f6d12220a200a1e0a042f62617212' +
      '0f220d0a047376633112050a0010903f1a0545786163741a020a001a002200',
    json: {"kind":"Ingress","apiVersion":"networking.k8s.io/v1","metadata":{"name":"simple","namespace":"default","creationTimestamp":null},"spec":{"rules":[{"host":"foo.com","http":{"paths":[{"path":"/bar","pathType":"Exact","backend":{"service":{"name":"svc1","port":{"number":8080}}}}]}}]},"status":{"loadBalancer":{}}},
  },
  {
    command: 'create pdb my-pdb -n default --selector=app=rails --min-available=50%',
    hex:
      '6b3873000a200a09706f6c6963792f76311213506f6444697372757074696f6e42756467657412480a1d0a066d792d70' +
      '646212001a0764656661756c7422002a00320038004200121b0a09080110001a03353025120e0a0c0a03617070120572' +
      '61696c731a0a080018002000280030001a002200',
    json: {"kind":"PodDisruptionBudget","apiVersion":"policy/v1","metadata":{"name":"my-pdb","namespace":"default","creationTimestamp":null},"spec":{"minAvailable":"50%","selector":{"matchLabels":{"app":"rails"}}},"status":{"disruptionsAllowed":0,"currentHealthy":0,"desiredHealthy":0,"expectedPods":0}},
  },
  {
    command: 'create quota q -n default --hard=cpu=1,memory=1G,pods=2,services=3 --scopes=BestEffort',
    hex:
      '6b3873000a130a027631120d5265736f7572636551756f746112640a180a017112001a0764656661756c7422002a0032' +
      '003800420012460a0a0a0363707512030a01310a0e0a066d656d6f727912040a0231470a0b0a04706f647312030a0132' +
      '0a0f0a08736572766963657312030a0133120a426573744566666f72741a001a002200',
    json: {"kind":"ResourceQuota","apiVersion":"v1","metadata":{"name":"q","namespace":"default","creationTimestamp":null},"spec":{"hard":{"cpu":"1","memory":"1G","pods":"2","services":"3"},"scopes":["BestEffort"]},"status":{}},
  },
  {
    command: 'create secret docker-registry reg -n default --docker-server=r.io --docker-username=u --docker-password=p',
    hex:
      '6b3873000a0c0a02763112065365637265741293010a1a0a0372656712001a0764656661756c7422002a003200380042' +
      '0012550a112e646f636b6572636f6e6669676a736f6e12407b226175746873223a7b22722e696f223a7b22757365726e' +
      '616d65223a2275222c2270617373776f7264223a2270222c2261757468223a2264547077227d7d7d1a1e6b756265726e' +
      '657465732e696f2f646f636b6572636f6e6669676a736f6e1a002200',
    json: {"kind":"Secret","apiVersion":"v1","metadata":{"name":"reg","namespace":"default","creationTimestamp":null},"data":{".dockerconfigjson":"eyJhdXRocyI6eyJyLmlvIjp7InVzZXJuYW1lIjoidSIsInBhc3N3b3JkIjoicCIsImF1dGgiOiJkVHB3In19fQ=="},"type":"kubernetes.io/dockerconfigjson"},
  },
];

describe('decodeKubernetesProtobuf on bodies from the real kubectl', () => {
  it.each(KUBECTL_1_32.map(f => [f.command, f] as const))('decodes `kubectl %s` to the JSON kubectl would send', (_, f) => {
    expect(decode(hex(f.hex))).toStrictEqual(f.json);
  });

  it('reads the runtime.Unknown envelope', () => {
    const env = readEnvelope(hex(KUBECTL_1_32[0]!.hex));
    expect(env).toMatchObject({ apiVersion: 'v1', kind: 'Namespace', contentEncoding: '', contentType: '' });
    expect(env.raw.length).toBe(27);
  });
});

// Objects as kubectl/client-go write them in JSON (Go's omitempty: `creationTimestamp: null`,
// `resources: {}`), so a round trip must give them back exactly.
const ROUND_TRIPS: Json[] = [
  // `kubectl run web --image=nginx --port=80 --labels=app=web,tier=fe --env=A=1 --env=B=
  //  --restart=Never --image-pull-policy=IfNotPresent --privileged=true --dry-run=client -o json`
  { kind: 'Pod', apiVersion: 'v1', metadata: { name: 'web', namespace: 'default', creationTimestamp: null, labels: { app: 'web', tier: 'fe' } }, spec: { containers: [{ name: 'web', image: 'nginx', ports: [{ containerPort: 80 }], env: [{ name: 'A', value: '1' }, { name: 'B' }], resources: {}, imagePullPolicy: 'IfNotPresent', securityContext: { privileged: true } }], restartPolicy: 'Never', dnsPolicy: 'ClusterFirst' }, status: {} },
  // `kubectl drain n1 --grace-period=0` (1.32 sends this one as JSON; a client may use protobuf).
  { kind: 'Eviction', apiVersion: 'policy/v1', metadata: { name: 'web-1', namespace: 'default', creationTimestamp: null }, deleteOptions: { gracePeriodSeconds: 0 } },
  { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 30, propagationPolicy: 'Foreground', preconditions: { uid: 'u-1', resourceVersion: '7' }, dryRun: ['All'], orphanDependents: false },
  {
    kind: 'Pod', apiVersion: 'v1',
    metadata: {
      name: 'full', namespace: 'ns', uid: '3f1c', resourceVersion: '42', generation: 3,
      creationTimestamp: '2024-05-01T10:20:30Z', deletionTimestamp: '2024-05-02T00:00:00Z', deletionGracePeriodSeconds: 0,
      labels: { app: 'full', empty: '' }, annotations: { note: 'ünïcode ✓' }, finalizers: ['example.com/x'],
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'full-abc', uid: 'rs-1', controller: true, blockOwnerDeletion: true }],
      managedFields: [{ manager: 'kubectl', operation: 'Update', apiVersion: 'v1', time: '2024-05-01T10:20:30Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } } } }],
    },
    spec: {
      initContainers: [{ name: 'init', image: 'busybox', command: ['sh', '-c'], args: ['echo init'], resources: {}, restartPolicy: 'Always' }],
      containers: [{
        name: 'app', image: 'nginx:1.27', workingDir: '/srv', imagePullPolicy: 'Always',
        ports: [{ name: 'http', containerPort: 80, protocol: 'TCP' }, { containerPort: 53, protocol: 'UDP', hostPort: 5353, hostIP: '0.0.0.0' }],
        env: [
          { name: 'POD', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
          { name: 'CPU', valueFrom: { resourceFieldRef: { containerName: 'app', resource: 'limits.cpu', divisor: '1m' } } },
          { name: 'PW', valueFrom: { secretKeyRef: { name: 's', key: 'pw', optional: false } } },
        ],
        envFrom: [{ prefix: 'CM_', configMapRef: { name: 'cm' } }],
        resources: { limits: { cpu: '500m', memory: '128Mi' }, requests: { cpu: '250m', memory: '64Mi', 'nvidia.com/gpu': '1' } },
        volumeMounts: [{ name: 'data', mountPath: '/data', readOnly: true, subPath: 'x', mountPropagation: 'None' }],
        livenessProbe: { httpGet: { path: '/healthz', port: 'http', scheme: 'HTTP', httpHeaders: [{ name: 'X', value: 'y' }] }, initialDelaySeconds: 5, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 },
        readinessProbe: { tcpSocket: { port: 80 }, terminationGracePeriodSeconds: 0 },
        startupProbe: { exec: { command: ['cat', '/ready'] } },
        lifecycle: { preStop: { sleep: { seconds: 5 } }, postStart: { httpGet: { port: 8080 } } },
        securityContext: { runAsUser: 0, runAsNonRoot: false, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { add: ['NET_ADMIN'], drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } },
        stdin: true, tty: true, terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File',
      }],
      volumes: [
        { name: 'scratch', emptyDir: { medium: 'Memory', sizeLimit: '1Gi' } },
        { name: 'empty', emptyDir: {} },
        { name: 'host', hostPath: { path: '/var/log', type: 'Directory' } },
        { name: 'cm', configMap: { name: 'cm', items: [{ key: 'a', path: 'a.txt', mode: 0o400 }], defaultMode: 0o644, optional: true } },
        { name: 'sec', secret: { secretName: 's', defaultMode: 420, optional: false } },
        { name: 'proj', projected: { defaultMode: 420, sources: [
          { serviceAccountToken: { audience: 'api', expirationSeconds: 3607, path: 'token' } },
          { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
          { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
        ] } },
        { name: 'dapi', downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }, { path: 'mem', resourceFieldRef: { containerName: 'app', resource: 'limits.memory', divisor: '1Mi' } }] } },
        { name: 'data', persistentVolumeClaim: { claimName: 'data', readOnly: true } },
      ],
      restartPolicy: 'Always', terminationGracePeriodSeconds: 0, activeDeadlineSeconds: 600, dnsPolicy: 'ClusterFirstWithHostNet',
      nodeSelector: { 'kubernetes.io/os': 'linux' }, serviceAccountName: 'robot', automountServiceAccountToken: false,
      nodeName: 'n1', hostNetwork: true, shareProcessNamespace: true, enableServiceLinks: false, priority: -5, priorityClassName: 'low',
      securityContext: { runAsUser: 1000, runAsGroup: 3000, fsGroup: 2000, supplementalGroups: [4000, 5000], sysctls: [{ name: 'net.core.somaxconn', value: '1024' }] },
      imagePullSecrets: [{ name: 'regcred' }], hostname: 'h', subdomain: 'sub',
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }] }] },
          preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 1, preference: { matchFields: [{ key: 'metadata.name', operator: 'NotIn', values: ['n2'] }] } }],
        },
        podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { app: 'full' }, matchExpressions: [{ key: 'tier', operator: 'Exists' }] } } }] },
      },
      tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 }, { operator: 'Exists' }],
      hostAliases: [{ ip: '10.0.0.1', hostnames: ['db'] }],
      dnsConfig: { nameservers: ['1.1.1.1'], searches: ['svc.cluster.local'], options: [{ name: 'ndots', value: '2' }, { name: 'edns0' }] },
      readinessGates: [{ conditionType: 'example.com/ready' }], runtimeClassName: 'runc', preemptionPolicy: 'Never',
      overhead: { cpu: '10m' }, topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { app: 'full' } }, minDomains: 2 }],
      os: { name: 'linux' }, hostUsers: false,
    },
    status: {
      phase: 'Running', podIP: '10.244.0.5', podIPs: [{ ip: '10.244.0.5' }], hostIP: '192.168.1.10', qosClass: 'Burstable', startTime: '2024-05-01T10:20:31Z',
      conditions: [{ type: 'Ready', status: 'True', lastProbeTime: null, lastTransitionTime: '2024-05-01T10:20:40Z' }],
      containerStatuses: [{ name: 'app', ready: true, restartCount: 0, image: 'nginx:1.27', imageID: 'sha256:abc', containerID: 'containerd://1', started: true, state: { running: { startedAt: '2024-05-01T10:20:35Z' } }, lastState: { terminated: { exitCode: 137, reason: 'OOMKilled', startedAt: null, finishedAt: '2024-05-01T10:20:34Z' } } }],
    },
  },
  {
    kind: 'Deployment', apiVersion: 'apps/v1', metadata: { name: 'web', namespace: 'default', creationTimestamp: null, labels: { app: 'web' } },
    spec: {
      replicas: 0, revisionHistoryLimit: 10, progressDeadlineSeconds: 600, paused: true,
      selector: { matchLabels: { app: 'web' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } },
      template: { metadata: { creationTimestamp: null, labels: { app: 'web' } }, spec: { containers: [{ name: 'nginx', image: 'nginx', resources: {} }] } },
    },
    status: { replicas: 2, readyReplicas: 2, conditions: [{ type: 'Available', status: 'True', lastUpdateTime: '2024-01-01T00:00:00Z', lastTransitionTime: '2024-01-01T00:00:00Z', reason: 'MinimumReplicasAvailable', message: 'ok' }] },
  },
  {
    kind: 'StatefulSet', apiVersion: 'apps/v1', metadata: { name: 'db', creationTimestamp: null },
    spec: {
      serviceName: 'db', replicas: 3, podManagementPolicy: 'Parallel', selector: { matchLabels: { app: 'db' } },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0, maxUnavailable: 1 } },
      persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Delete', whenScaled: 'Retain' }, ordinals: { start: 0 },
      template: { metadata: { creationTimestamp: null }, spec: { containers: [{ name: 'db', image: 'postgres', resources: {} }] } },
      volumeClaimTemplates: [{ metadata: { name: 'data', creationTimestamp: null }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'local', resources: { requests: { storage: '10Gi' } }, volumeMode: 'Filesystem' }, status: {} }],
    },
    status: { replicas: 0, availableReplicas: 0 },
  },
  {
    kind: 'DaemonSet', apiVersion: 'apps/v1', metadata: { name: 'agent', creationTimestamp: null },
    spec: { selector: { matchLabels: { app: 'agent' } }, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } }, template: { metadata: { creationTimestamp: null }, spec: { containers: [{ name: 'a', image: 'agent', resources: {} }] } } },
    status: { currentNumberScheduled: 1, numberMisscheduled: 0, desiredNumberScheduled: 1, numberReady: 1 },
  },
  {
    kind: 'ReplicaSet', apiVersion: 'apps/v1', metadata: { name: 'web-abc', creationTimestamp: null },
    spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, template: { metadata: { creationTimestamp: null }, spec: { containers: [{ name: 'n', image: 'nginx', resources: {} }] } } },
    status: { replicas: 1, fullyLabeledReplicas: 1 },
  },
  {
    kind: 'Job', apiVersion: 'batch/v1', metadata: { name: 'pi', creationTimestamp: null },
    spec: {
      backoffLimit: 0, parallelism: 2, completions: 4, completionMode: 'Indexed', suspend: false, ttlSecondsAfterFinished: 100, manualSelector: false,
      podFailurePolicy: { rules: [{ action: 'FailJob', onExitCodes: { containerName: 'pi', operator: 'In', values: [42] } }, { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] }] },
      template: { metadata: { creationTimestamp: null }, spec: { containers: [{ name: 'pi', image: 'perl', resources: {} }], restartPolicy: 'Never' } },
    },
    status: { active: 1, startTime: '2024-01-01T00:00:00Z', completedIndexes: '0-1' },
  },
  {
    kind: 'CronJob', apiVersion: 'batch/v1', metadata: { name: 'tick', creationTimestamp: null },
    spec: { schedule: '0 * * * *', timeZone: 'Etc/UTC', concurrencyPolicy: 'Forbid', startingDeadlineSeconds: 30, successfulJobsHistoryLimit: 0, failedJobsHistoryLimit: 1, suspend: true, jobTemplate: { metadata: { creationTimestamp: null }, spec: { template: { metadata: { creationTimestamp: null }, spec: { containers: [{ name: 't', image: 'busybox', resources: {} }], restartPolicy: 'OnFailure' } } } } },
    status: { lastScheduleTime: '2024-01-01T01:00:00Z', active: [{ kind: 'Job', namespace: 'default', name: 'tick-1', uid: 'j1', apiVersion: 'batch/v1', resourceVersion: '9' }] },
  },
  {
    kind: 'Service', apiVersion: 'v1', metadata: { name: 'lb', creationTimestamp: null },
    spec: {
      type: 'LoadBalancer', selector: { app: 'lb' }, clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'], ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack',
      ports: [{ name: 'dns', protocol: 'UDP', port: 53, targetPort: 'dns' }, { name: 'web', port: 80, targetPort: 8080, nodePort: 30080, appProtocol: 'http' }],
      sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 10800 } }, externalTrafficPolicy: 'Local', healthCheckNodePort: 31000,
      allocateLoadBalancerNodePorts: false, loadBalancerSourceRanges: ['10.0.0.0/8'], externalIPs: ['1.2.3.4'], publishNotReadyAddresses: true,
    },
    status: { loadBalancer: { ingress: [{ ip: '1.2.3.4', ipMode: 'VIP', ports: [{ port: 80, protocol: 'TCP' }] }] } },
  },
  {
    kind: 'Endpoints', apiVersion: 'v1', metadata: { name: 'web', creationTimestamp: null },
    subsets: [{ addresses: [{ ip: '10.244.0.5', nodeName: 'n1', targetRef: { kind: 'Pod', name: 'web-1', namespace: 'default', uid: 'p1' } }], notReadyAddresses: [{ ip: '10.244.0.6', hostname: 'h' }], ports: [{ name: 'http', port: 80, protocol: 'TCP', appProtocol: 'http' }] }],
  },
  {
    kind: 'Node', apiVersion: 'v1', metadata: { name: 'n1', creationTimestamp: null, labels: { 'kubernetes.io/hostname': 'n1' } },
    spec: { podCIDR: '10.244.0.0/24', podCIDRs: ['10.244.0.0/24'], unschedulable: true, taints: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule', timeAdded: '2024-01-01T00:00:00Z' }], providerID: 'k8ts://n1' },
    status: {
      capacity: { cpu: '4', memory: '16358280Ki', pods: '110' }, allocatable: { cpu: '3800m', memory: '15Gi', pods: '110' },
      conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: '2024-01-01T00:00:10Z', lastTransitionTime: '2024-01-01T00:00:00Z', reason: 'KubeletReady', message: 'ready' }],
      addresses: [{ type: 'InternalIP', address: '192.168.1.10' }, { type: 'Hostname', address: 'n1' }],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: { machineID: 'm', systemUUID: 's', bootID: 'b', kernelVersion: '6.8', osImage: 'Linux', containerRuntimeVersion: 'containerd://1.7', kubeletVersion: 'v1.30.0', kubeProxyVersion: 'v1.30.0', operatingSystem: 'linux', architecture: 'amd64' },
      images: [{ names: ['docker.io/library/nginx:latest'], sizeBytes: 2 ** 40 + 7 }],
      volumesAttached: [{ name: 'kubernetes.io/csi/x', devicePath: '/dev/sdb' }], volumesInUse: ['kubernetes.io/csi/x'],
    },
  },
  {
    kind: 'Event', apiVersion: 'v1', metadata: { name: 'web.17a', namespace: 'default', creationTimestamp: null },
    involvedObject: { kind: 'Pod', namespace: 'default', name: 'web', uid: 'p1', apiVersion: 'v1', resourceVersion: '5', fieldPath: 'spec.containers{web}' },
    reason: 'Pulled', message: 'Successfully pulled image', source: { component: 'kubelet', host: 'n1' }, type: 'Normal', count: 2,
    firstTimestamp: '2024-01-01T00:00:00Z', lastTimestamp: '2024-01-01T00:01:00Z', eventTime: '2024-01-01T00:00:00.123456Z',
    series: { count: 2, lastObservedTime: '2024-01-01T00:01:00.000001Z' }, action: 'Pull', reportingComponent: 'kubelet', reportingInstance: 'n1',
    related: { kind: 'Node', name: 'n1' },
  },
  { kind: 'Binding', apiVersion: 'v1', metadata: { name: 'web-1', namespace: 'default', creationTimestamp: null }, target: { kind: 'Node', name: 'n1', apiVersion: 'v1' } },
  { kind: 'Scale', apiVersion: 'autoscaling/v1', metadata: { name: 'web', namespace: 'default', creationTimestamp: null }, spec: { replicas: 3 }, status: { replicas: 2, selector: 'app=web' } },
  { kind: 'Namespace', apiVersion: 'v1', metadata: { name: 'gone', creationTimestamp: null }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Terminating', conditions: [{ type: 'NamespaceDeletionContentFailure', status: 'False', lastTransitionTime: '2024-01-01T00:00:00Z', reason: 'ContentDeleted', message: 'all deleted' }] } },
  { kind: 'ServiceAccount', apiVersion: 'v1', metadata: { name: 'robot', creationTimestamp: null }, secrets: [{ name: 'robot-token' }], imagePullSecrets: [{ name: 'regcred' }], automountServiceAccountToken: false },
  { kind: 'Secret', apiVersion: 'v1', metadata: { name: 'tls', creationTimestamp: null }, type: 'kubernetes.io/tls', immutable: true, data: { 'tls.crt': Buffer.from([0, 1, 2, 255]).toString('base64'), 'tls.key': '' } },
  { kind: 'ControllerRevision', apiVersion: 'apps/v1', metadata: { name: 'web-1', creationTimestamp: null }, revision: 1, data: { spec: { template: { spec: { containers: [{ name: 'n', image: 'nginx' }] } } } } },
];

describe('decodeKubernetesProtobuf round trips', () => {
  it.each(ROUND_TRIPS.map(o => [`${String(o.kind)} ${(o.metadata as { name?: string } | undefined)?.name ?? ''}`, o] as const))('gives back %s exactly', (_, obj) => {
    expect(roundTrip(obj)).toStrictEqual(obj);
  });
});

describe('decodeKubernetesProtobuf and the zero values Go writes', () => {
  it('drops optional zero scalars but keeps pointers, fields without omitempty, and structs', () => {
    // DeploymentSpec as go-to-protobuf writes it: replicas (a pointer) 0, minReadySeconds 0,
    // paused false, an empty strategy, and a template with a zero containerPort (no omitempty),
    // a zero hostPort and stdin false (omitempty).
    const port = new ProtoWriter().string(1, '').uint(2, 0).uint(3, 0).string(4, '').string(5, '').finish();
    const container = new ProtoWriter().string(1, 'c').string(2, '').bytes(6, port).uint(16, 0).finish();
    const podSpec = new ProtoWriter().bytes(2, container).string(3, '').uint(11, 0).finish();
    const template = new ProtoWriter().bytes(1, new Uint8Array(0)).bytes(2, podSpec).finish();
    const spec = new ProtoWriter().uint(1, 0).bytes(3, template).bytes(4, new ProtoWriter().string(1, '').finish()).uint(5, 0).uint(7, 0).finish();
    const deployment = new ProtoWriter().bytes(2, spec).finish();
    expect(decode(envelope('apps/v1', 'Deployment', deployment))).toStrictEqual({
      kind: 'Deployment', apiVersion: 'apps/v1',
      spec: { replicas: 0, template: { metadata: {}, spec: { containers: [{ name: 'c', ports: [{ containerPort: 0 }] }] } }, strategy: {} },
    });
  });

  it('writes an empty Time as null and drops the nanoseconds of a Time, not of a MicroTime', () => {
    const time = (s: number, n: number): Uint8Array => new ProtoWriter().uint(1, s).uint(2, n).finish();
    const meta = new ProtoWriter().string(1, 'e').bytes(8, new Uint8Array(0)).bytes(9, time(1700000000, 999_999_999)).finish();
    const event = new ProtoWriter().bytes(1, meta).bytes(10, time(1700000000, 123_456_789)).finish();
    expect(decode(envelope('v1', 'Event', event))).toStrictEqual({
      kind: 'Event', apiVersion: 'v1',
      metadata: { name: 'e', creationTimestamp: null, deletionTimestamp: '2023-11-14T22:13:20Z' },
      eventTime: '2023-11-14T22:13:20.123456Z',
    });
  });

  it('reads packed and unpacked repeated integers, negative int32 and large int64', () => {
    const packed = new ProtoWriter().varint(4000).varint(5000).finish();
    const sc = new ProtoWriter().tag(4, 2).varint(packed.length).raw(packed).uint(4, 6000).finish();
    const podSpec = new ProtoWriter().bytes(14, sc).uint(25, -5).finish();
    const pod = new ProtoWriter().bytes(2, podSpec).finish();
    expect(decode(envelope('v1', 'Pod', pod))).toStrictEqual({ kind: 'Pod', apiVersion: 'v1', spec: { securityContext: { supplementalGroups: [4000, 5000, 6000] }, priority: -5 } });
  });

  it('skips field numbers it does not know, of every wire type', () => {
    const meta = new ProtoWriter()
      .uint(99, 7)
      .tag(98, 1).raw([1, 2, 3, 4, 5, 6, 7, 8])
      .tag(97, 5).raw([1, 2, 3, 4])
      .string(96, 'future')
      .tag(95, 3).uint(1, 1).tag(95, 4)
      .string(1, 'x')
      .finish();
    const ns = new ProtoWriter().bytes(1, meta).finish();
    expect(decode(envelope('v1', 'Namespace', ns))).toStrictEqual({ kind: 'Namespace', apiVersion: 'v1', metadata: { name: 'x' } });
  });

  it('accepts a JSON object inside the envelope', () => {
    const raw = new TextEncoder().encode('{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"j"}}');
    expect(decode(envelope('v1', 'Namespace', raw, 'application/json'))).toStrictEqual({ kind: 'Namespace', apiVersion: 'v1', metadata: { name: 'j' } });
  });

  it('keeps an empty map value and a key with no value', () => {
    const entry = new ProtoWriter().string(1, 'k').finish();
    const meta = new ProtoWriter().string(1, 'x').bytes(11, entry).finish();
    expect(decode(envelope('v1', 'ConfigMap', new ProtoWriter().bytes(1, meta).finish()))).toStrictEqual({ kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'x', labels: { k: '' } } });
  });
});

describe('decodeKubernetesProtobuf and omitempty', () => {
  it('drops a Scale to zero replicas as Go\'s JSON does (ScaleSpec.replicas is not a pointer)', () => {
    const scale: Json = { kind: 'Scale', apiVersion: 'autoscaling/v1', metadata: { name: 'web' }, spec: { replicas: 0 } };
    expect(roundTrip(scale)).toStrictEqual({ ...scale, spec: {} });
  });
});

describe('decodeKubernetesProtobuf errors', () => {
  const ns = hex(KUBECTL_1_32[0]!.hex);

  it('rejects a body without the magic', () => {
    const e = catchStatusError(() => decode(new TextEncoder().encode('{"kind":"Namespace"}')));
    expect(e.code).toBe(400);
    expect(e.message).toBe('Invalid protobuf body: expected the magic prefix "k8s\\0" (6b387300), got "7b226b69"');
    expect(catchStatusError(() => decode(new Uint8Array(0))).code).toBe(400);
  });

  it('rejects truncated data at every length', () => {
    for (let n = 5; n < ns.length; n++) {
      let thrown: unknown;
      try {
        decode(ns.subarray(0, n));
      } catch (e) {
        thrown = e;
      }
      // A cut exactly between two fields is a shorter, valid message; anything else is an error.
      if (thrown !== undefined) {
        expect(thrown).toBeInstanceOf(StatusError);
        expect((thrown as StatusError).code).toBe(400);
      }
    }
    expect(catchStatusError(() => decode(ns.subarray(0, ns.length - 3))).message).toMatch(/^Invalid protobuf body: truncated data while reading /);
  });

  it('rejects a kind it does not know', () => {
    const e = catchStatusError(() => decode(envelope('example.com/v1', 'Widget', new Uint8Array(0))));
    expect(e).toEqual(errors.badRequest('no kind "Widget" is registered for version "example.com/v1" in the protobuf decoder'));
  });

  it('rejects a field whose wire type does not match the schema', () => {
    const meta = new ProtoWriter().uint(1, 5).finish();
    const e = catchStatusError(() => decode(envelope('v1', 'Namespace', new ProtoWriter().bytes(1, meta).finish())));
    expect(e.message).toBe('Invalid protobuf body: field "metadata.name" has wire type 0, expected 2');
  });

  it('rejects a RawExtension that is not JSON', () => {
    const data = new ProtoWriter().string(1, 'not json').finish();
    const e = catchStatusError(() => decode(envelope('apps/v1', 'ControllerRevision', new ProtoWriter().bytes(2, data).finish())));
    expect(e.message).toMatch(/^Invalid protobuf body: field "data" is not valid JSON/);
  });

  it('rejects an encoded body and an unknown raw content type', () => {
    const raw = encodeMessage(schemas, 'io.k8s.api.core.v1.Namespace', {});
    const typeMeta = new ProtoWriter().string(1, 'v1').string(2, 'Namespace').finish();
    const gz = Uint8Array.from([0x6b, 0x38, 0x73, 0x00, ...new ProtoWriter().bytes(1, typeMeta).bytes(2, raw).string(3, 'gzip').finish()]);
    expect(catchStatusError(() => decode(gz)).message).toBe('Invalid protobuf body: unsupported content encoding "gzip"');
    expect(catchStatusError(() => decode(envelope('v1', 'Namespace', raw, 'application/yaml'))).message).toBe('Invalid protobuf body: unsupported raw content type "application/yaml"');
  });
});
