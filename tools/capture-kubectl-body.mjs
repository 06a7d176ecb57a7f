// Captures the request bodies the real kubectl sends, so api/protobuf's tests can hold the exact
// wire format as fixtures. A throwaway HTTPS server on 127.0.0.1 (self-signed cert from openssl in
// a temp dir) records every POST body as hex and answers 201 with a minimal JSON object; GETs get a
// 404 Status so kubectl's optional discovery falls through quickly.
//
// usage: node tools/capture-kubectl-body.mjs KUBECTL -- <kubectl create args...>
// prints one JSON line per POST: {path, contentType, hex}
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [kubectl, sep, ...args] = process.argv.slice(2);
if (!kubectl || sep !== '--') {
  console.error('usage: capture-kubectl-body.mjs KUBECTL -- ARGS...');
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'kubectl-capture-'));
try {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  const captured = [];
  const server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (req, res) => {
    const chunks = [];
    req.on('data', c => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'POST') {
        captured.push({ path: req.url, contentType: req.headers['content-type'], hex: Buffer.concat(chunks).toString('hex') });
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Success', metadata: {} }));
      } else {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 404, reason: 'NotFound', metadata: {} }));
      }
    });
  });
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  // Flags go before a `--` that starts the container command (create job/cronjob).
  const flags = ['--server', `https://127.0.0.1:${port}`, '--insecure-skip-tls-verify', '--token', 't', '--validate=false'];
  const dash = args.indexOf('--');
  const argv = dash < 0 ? [...args, ...flags] : [...args.slice(0, dash), ...flags, ...args.slice(dash)];
  const child = spawn(kubectl, argv,
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, KUBECONFIG: join(dir, 'none') } });
  await new Promise(resolve => child.on('exit', resolve));
  server.close();
  for (const c of captured) console.log(JSON.stringify(c));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
