// The test image carries what network checks need beyond busybox: a UDP echo server and client,
// and CGI scripts that name the host and the client's address. Checked by running them from the
// built layer, inside a network namespace of this test (loopback only).
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { jest } from '@jest/globals';
import { execa } from 'execa';
import { createNetns, deleteNetns, execInNetns, spawnInNetns, type NetnsProcess } from '../../kernel/netns.js';
import { buildBusyboxImage } from './build-busybox-image.js';

jest.setTimeout(60_000);

const work = mkdtempSync(join(tmpdir(), 'k8ts-image-test-'));
const ns = `k8ts-t-${randomBytes(3).toString('hex')}-img`;
const root = join(work, 'rootfs');
const servers: NetnsProcess[] = [];

beforeAll(async () => {
  const archive = join(work, 'image.tar');
  await buildBusyboxImage(archive);
  const layout = join(work, 'layout');
  await execa('mkdir', ['-p', layout, root]);
  await execa('tar', ['-xf', archive, '-C', layout]);
  const index = JSON.parse((await execa('cat', [join(layout, 'manifest.json')])).stdout) as { Layers: string[] }[];
  await execa('tar', ['-xf', join(layout, index[0]!.Layers[0]!), '-C', root]);
  await createNetns(ns);
});
afterAll(async () => {
  for (const s of servers) await s.stop();
  await deleteNetns(ns);
  rmSync(work, { recursive: true, force: true });
});

test('udpecho is a static binary that answers with its hostname and the client address', async () => {
  const udpecho = join(root, 'bin/udpecho');
  expect(statSync(udpecho).mode & 0o111).toBeTruthy();
  // Static: the image has no libc to load a dynamic one with.
  expect((await execa('ldd', [udpecho], { reject: false })).stdout + (await execa('ldd', [udpecho], { reject: false })).stderr).toMatch(/not a dynamic executable/);
  servers.push(spawnInNetns(ns, udpecho, ['-l', '7001']));
  await new Promise(r => setTimeout(r, 200));
  const answer = await execInNetns(ns, udpecho, ['-w', '500', '127.0.0.1', '7001', 'hello']);
  expect(answer.trim()).toMatch(/^\S+ 127\.0\.0\.1:\d+$/);
  const refused = await execa('ip', ['netns', 'exec', ns, udpecho, '-w', '300', '-n', '1', '127.0.0.1', '7002'], { reject: false });
  expect(refused.exitCode).toBe(1);
  expect(refused.stderr).toMatch(/refused|no answer/);
});

test('httpd serves the hostname, client-address and body-size CGI scripts', async () => {
  servers.push(spawnInNetns(ns, join(root, 'bin/busybox'), ['httpd', '-f', '-p', '127.0.0.1:7080', '-h', join(root, 'var/www')]));
  await new Promise(r => setTimeout(r, 200));
  const get = (path: string) => execInNetns(ns, join(root, 'bin/busybox'), ['wget', '-qO-', `http://127.0.0.1:7080${path}`]);
  expect((await get('/cgi-bin/clientip')).trim()).toBe('127.0.0.1');
  expect((await get('/cgi-bin/hostname')).trim()).toBe((await execa('hostname')).stdout.trim());
  const big = join(work, 'big');
  await execa('dd', ['if=/dev/zero', `of=${big}`, 'bs=1024', 'count=1024']);
  // busybox wget --post-file sends no Content-Length, so large requests go as raw HTTP through nc.
  const post = `{ printf 'POST /cgi-bin/size HTTP/1.0\\r\\nContent-Length: 1048576\\r\\n\\r\\n'; cat ${big}; } | ${join(root, 'bin/busybox')} nc 127.0.0.1 7080`;
  const size = await execInNetns(ns, 'sh', ['-c', post]);
  expect(size.trim().split('\n').pop()).toBe('1048576');
});
