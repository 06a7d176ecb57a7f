// grpc probes against a real gRPC health server (node's http2, h2c) inside a network namespace
// of the test's own, dialled from that namespace as the agent dials pods.
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { Http2Server } from 'node:http2';
import { jest } from '@jest/globals';
import { createNetns, deleteNetns, execInNetns, withNetnsSync } from '../kernel/netns.js';
import { startGrpcHealthServer } from '../test/e2e/agent-harness.js';
import { grpcCheck, httpGet } from './probe-net.js';

jest.setTimeout(60_000);

const ns = `k8ts-t-grpc-${randomBytes(3).toString('hex')}`;
const statuses = new Map<string, number>([['', 1], ['down', 2]]);
let server: Http2Server | undefined;

beforeAll(async () => {
  await createNetns(ns);
  await execInNetns(ns, 'ip', ['link', 'set', 'lo', 'up']);
  server = await startGrpcHealthServer(ns, 9555, statuses);
});
afterAll(async () => {
  await new Promise(r => (server ? server.close(r) : r(undefined)));
  await deleteNetns(ns);
});

const at = (port: number, service = '') => ({ host: '127.0.0.1', port, service, netns: ns });

describe('grpcCheck', () => {
  it('succeeds for SERVING and fails with upstream\'s message otherwise', async () => {
    expect(await grpcCheck(at(9555), 1000)).toEqual({ ok: true, message: 'service healthy' });
    expect(await grpcCheck(at(9555, 'down'), 1000)).toEqual({ ok: false, message: 'service unhealthy (responded with "NOT_SERVING")' });
    statuses.set('down', 1);
    expect((await grpcCheck(at(9555, 'down'), 1000)).ok).toBe(true);
    expect((await grpcCheck(at(9555, 'nope'), 1000)).message).toBe('error: health rpc probe failed: rpc error: code = 5 desc = unknown service');
  });
  it('fails on a refused connection and on a server that never answers, within the timeout', async () => {
    const refused = await grpcCheck(at(9556), 1000);
    expect(refused.ok).toBe(false);
    expect(refused.message).toMatch(/^error: failed to connect service at "127\.0\.0\.1:9556": .*ECONNREFUSED/);
    // A TCP listener that never speaks HTTP/2.
    const mute = createServer(() => undefined);
    await new Promise<void>(r => { mute.once('listening', r); withNetnsSync(ns, () => mute.listen(9557)); });
    try {
      const t0 = Date.now();
      const r = await grpcCheck(at(9557), 500);
      expect(r.ok).toBe(false);
      expect(Date.now() - t0).toBeLessThan(1500);
      expect(r.message).toMatch(/^timeout: /);
    } finally {
      mute.close();
    }
  });
  it('is not reachable from outside the namespace (the socket was made inside it)', async () => {
    const r = await grpcCheck({ host: '127.0.0.1', port: 9555, service: '' }, 500);
    expect(r.ok).toBe(false);
  });
});

describe('httpGet', () => {
  it('reads a response whose header lines end in a bare LF, as Go\'s client (upstream\'s prober) does', async () => {
    // What busybox httpd sends for a CGI script that prints "Content-Type: text/plain\n\n".
    const lf = createServer(sock => { sock.once('data', () => sock.end('HTTP/1.0 200 OK\r\nContent-Type: text/plain\n\nok\n')); });
    await new Promise<void>(r => { lf.once('listening', r); withNetnsSync(ns, () => lf.listen(9558)); });
    try {
      expect(await httpGet({ host: '127.0.0.1', port: 9558, netns: ns, path: '/', scheme: 'HTTP', headers: [] }, 1000)).toEqual({ status: 200, body: 'ok\n' });
    } finally {
      lf.close();
    }
  });
});
