// Captures the request bodies the real kubectl sends, so api/protobuf's tests can hold the exact
// wire format as fixtures. A throwaway HTTPS server on 127.0.0.1 (self-signed cert from openssl in
// a temp dir) records every POST body as hex and answers 201 with a minimal JSON object; GETs get a
// 404 Status so kubectl's optional discovery falls through quickly.
//
// usage: node tools/capture-kubectl-body.mjs [--responses FILE] KUBECTL -- <kubectl args...>
// Prints one JSON line per POST on stdout: {path, contentType, hex}; kubectl's own output goes to
// stderr. FILE (for commands that read first: run, drain) is a JSON list of {method, path, status,
// body}: the first entry whose method matches and whose path prefixes the request path answers it.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let argv0 = process.argv.slice(2);
let responses = [];
if (argv0[0] === '--responses') {
  responses = JSON.parse(readFileSync(argv0[1], 'utf8'));
  argv0 = argv0.slice(2);
}
const [kubectl, sep, ...args] = argv0;
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
      if (process.env.CAPTURE_VERBOSE) console.error(`${req.method} ${req.url}`);
      const canned = responses.find(r => r.method === req.method && req.url.startsWith(r.path));
      if (req.method === 'POST') {
        captured.push({ path: req.url, contentType: req.headers['content-type'], hex: Buffer.concat(chunks).toString('hex') });
      }
      if (canned) {
        res.writeHead(canned.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(canned.body));
      } else if (req.method === 'POST') {
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
  const flags = ['--server', `https://127.0.0.1:${port}`, '--insecure-skip-tls-verify', '--token', 't'];
  if (['create', 'apply'].includes(args[0])) flags.push('--validate=false');
  const dash = args.indexOf('--');
  const argv = dash < 0 ? [...args, ...flags] : [...args.slice(0, dash), ...flags, ...args.slice(dash)];
  const child = spawn(kubectl, argv,
    { stdio: ['ignore', 2, 'inherit'], env: { ...process.env, KUBECONFIG: join(dir, 'none') } });
  await new Promise(resolve => child.on('exit', resolve));
  server.close();
  for (const c of captured) console.log(JSON.stringify(c));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
