import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pod } from 'kubernetes-types/core/v1.js';
import WebSocket from 'ws';
import { ensureClusterPki, identities, type ClusterPki } from '../control/apiserver/pki.js';
import { KubeletApi } from './kubelet-api.js';
import { silentLogger } from './kubelet.js';
import type { ContainerRecord } from './pod-plan.js';

const pod: Pod = { metadata: { name: 'web', namespace: 'default', uid: 'u1' }, spec: { containers: [{ name: 'c' }] } };
let dir: string;
let pki: ClusterPki;
let api: KubeletApi;
let port: number;
let records: ContainerRecord[] = [];

function get(path: string, cert?: { certPem: string; keyPem: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, rejectUnauthorized: false, ...(cert ? { cert: cert.certPem, key: cert.keyPem } : {}) }, res => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'k8ts-kubelet-api-'));
  pki = await ensureClusterPki({ dataDir: join(dir, 'server'), serviceCidr: '10.43.0.0/16', hostIPs: [] });
  const logDir = join(dir, 'logs', 'default_web_u1', 'c');
  mkdirSync(logDir, { recursive: true });
  writeFileSync(join(logDir, '0.log'), '2026-01-02T15:04:05.000000000Z stdout F old\n');
  writeFileSync(join(logDir, '1.log'), '2026-01-02T15:04:06.000000000Z stdout F a\n2026-01-02T15:04:07.000000000Z stderr F b\n');
  api = new KubeletApi({
    kubelet: { pod: (ns, name) => (ns === 'default' && name === 'web' ? pod : undefined), recordsOf: () => records, containerLogDir: () => logDir },
    clientCA: pki.ca.certPem, nodeName: 'n1', hostIPs: [], log: silentLogger,
    execCommand: (_id, _execId, argv) => ({ file: argv[0]!, args: argv.slice(1) }),
  });
  port = (await api.listen('127.0.0.1', 0)).port;
});

afterAll(async () => {
  await api.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the kubelet API', () => {
  it('answers 401 without a client certificate and 403 to a cluster identity that is not the apiserver', async () => {
    expect((await get('/containerLogs/default/web/c')).status).toBe(401);
    const node = await pki.issueClientCert(identities.node('n1'));
    expect((await get('/containerLogs/default/web/c', node)).status).toBe(403);
  });

  it('serves the latest attempt, the previous one, tail and timestamps to the apiserver', async () => {
    const me = await pki.ensureClientCert('apiserver-kubelet-client', { commonName: 'kube-apiserver-kubelet-client', organizations: ['system:masters'] });
    expect(await get('/containerLogs/default/web/c', me)).toEqual({ status: 200, body: 'a\nb\n' });
    expect((await get('/containerLogs/default/web/c?previous=true', me)).body).toBe('old\n');
    expect((await get('/containerLogs/default/web/c?tailLines=1&timestamps=true', me)).body).toBe('2026-01-02T15:04:07Z b\n');
    expect((await get('/containerLogs/default/web/c?limitBytes=3', me)).body).toBe('a\nb');
    expect((await get('/containerLogs/default/web/nope', me)).status).toBe(404);
    expect((await get('/containerLogs/default/other/c', me)).status).toBe(404);
  });

  it('runs an exec over v5.channel.k8s.io and reports the exit code on channel 3', async () => {
    const me = await pki.ensureClientCert('apiserver-kubelet-client', { commonName: 'kube-apiserver-kubelet-client', organizations: ['system:masters'] });
    records = [{ id: 'u1-x-0', podUID: 'u1', name: 'c', attempt: 0, init: false, image: '', state: 'running' }];
    const q = new URLSearchParams([['command', 'sh'], ['command', '-c'], ['command', 'cat; echo done >&2; exit 3'], ['stdin', 'true'], ['stdout', 'true'], ['stderr', 'true']]);
    const ws = new WebSocket(`wss://127.0.0.1:${port}/exec/default/web/c?${q.toString()}`, ['v5.channel.k8s.io'], { cert: me.certPem, key: me.keyPem, rejectUnauthorized: false });
    const got: Record<number, string> = {};
    ws.on('message', (d: Buffer) => { got[d[0]!] = (got[d[0]!] ?? '') + d.subarray(1).toString(); });
    await new Promise(r => ws.on('open', r));
    expect(ws.protocol).toBe('v5.channel.k8s.io');
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('hello\n')]));
    ws.send(Buffer.from([255, 0]));
    await new Promise(r => ws.on('close', r));
    expect(got[1]).toBe('hello\n');
    expect(got[2]).toBe('done\n');
    expect(JSON.parse(got[3]!)).toMatchObject({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '3' }] } });
  });
});
