// Builds the project's test image from Debian's `busybox-static`: an OCI image-layout archive (with
// a docker-style manifest.json beside index.json, as `docker save` writes since 25) holding one
// uncompressed layer with /bin/busybox and a symlink per applet (sh, httpd, nc, wget, nslookup, ip,
// …). `ctr images import` takes it as is, so tests never need a registry.
//
// Network checks need two things busybox lacks, so the image also carries:
// - /bin/udpecho (udpecho.c, built static with gcc): a UDP server answering its hostname and the
//   client's address, and a UDP client (busybox's nc speaks only TCP);
// - CGI scripts for busybox httpd: /cgi-bin/hostname, /cgi-bin/clientip (source-IP checks) and
//   /cgi-bin/size (the byte count of a POSTed body: large-request checks).
//
// Design notes: the layer and the archive are written by GNU tar with a fixed order, owner and
// mtime, so the same busybox binary always gives the same digests (the image is content-addressed;
// a rebuild does not create a new image). A tar writer in TypeScript was rejected: tar is on every
// machine that has Debian's packages, and it is only the build of a test fixture.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync, statSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

export const testImageName = 'docker.io/k8ts/busybox:test';
export const busyboxPath = '/bin/busybox';
const builderPath = fileURLToPath(import.meta.url);
const udpechoSource = join(dirname(builderPath), 'udpecho.c');

/** udpecho.c beside this file, or (from dist/) in the source tree. */
function findUdpechoSource(): string {
  for (const candidate of [udpechoSource, udpechoSource.replace(/\/dist\/test\//, '/test/')]) if (existsSync(candidate)) return candidate;
  throw new Error(`udpecho.c not found next to ${builderPath}`);
}

const cgi = (body: string) => `#!/bin/sh\necho "Content-Type: text/plain"\necho\n${body}\n`;

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

const tarFlags = ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '--format=posix', '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime'];

/** Writes the archive to `out` (an OCI layout in a tar) and returns the image name it carries. */
/** `user`: the image config's USER (`uid[:gid]` or a name), for runAsNonRoot tests; none by default. */
export async function buildBusyboxImage(out: string, opts: { name?: string; busybox?: string; user?: string } = {}): Promise<string> {
  const name = opts.name ?? testImageName;
  const busybox = opts.busybox ?? busyboxPath;
  if (!existsSync(busybox)) throw new Error(`busybox not found at "${busybox}": install Debian's busybox-static`);
  const work = mkdtempSync(join(tmpdir(), 'k8ts-image-'));
  try {
    const root = join(work, 'rootfs');
    for (const d of ['bin', 'etc', 'tmp', 'var/www', 'root', 'proc', 'sys', 'dev']) mkdirSync(join(root, d), { recursive: true });
    chmodSync(join(root, 'tmp'), 0o1777);
    writeFileSync(join(root, 'bin/busybox'), readFileSync(busybox), { mode: 0o755 });
    const { stdout } = await execa(busybox, ['--list']);
    for (const applet of stdout.split('\n').map(s => s.trim()).filter(Boolean)) {
      if (applet === 'busybox') continue;
      symlinkSync('busybox', join(root, 'bin', applet));
    }
    writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
    writeFileSync(join(root, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
    writeFileSync(join(root, 'var/www/index.html'), 'k8ts busybox\n');
    mkdirSync(join(root, 'var/www/cgi-bin'));
    writeFileSync(join(root, 'var/www/cgi-bin/hostname'), cgi('hostname'), { mode: 0o755 });
    writeFileSync(join(root, 'var/www/cgi-bin/clientip'), cgi('echo "$REMOTE_ADDR"'), { mode: 0o755 });
    // The byte count of the request body (httpd gives it to the CGI on stdin).
    writeFileSync(join(root, 'var/www/cgi-bin/size'), `#!/bin/sh\nn=$(wc -c)\n${cgi('echo $n').slice('#!/bin/sh\n'.length)}`, { mode: 0o755 });
    await execa('gcc', ['-static', '-Os', '-s', '-o', join(root, 'bin/udpecho'), findUdpechoSource()]);

    const layout = join(work, 'layout');
    const blobs = join(layout, 'blobs/sha256');
    mkdirSync(blobs, { recursive: true });
    const layerTmp = join(work, 'layer.tar');
    await execa('tar', ['-cf', layerTmp, ...tarFlags, '-C', root, '.']);
    const layer = readFileSync(layerTmp);
    const layerDigest = sha256(layer);
    writeFileSync(join(blobs, layerDigest), layer);

    const config = Buffer.from(JSON.stringify({
      architecture: 'amd64', os: 'linux', created: '1970-01-01T00:00:00Z',
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'], WorkingDir: '/', ...(opts.user !== undefined ? { User: opts.user } : {}) },
      rootfs: { type: 'layers', diff_ids: [`sha256:${layerDigest}`] },
      history: [{ created: '1970-01-01T00:00:00Z', created_by: 'k8ts test/images/build-busybox-image.ts' }],
    }));
    const configDigest = sha256(config);
    writeFileSync(join(blobs, configDigest), config);

    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${configDigest}`, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${layerDigest}`, size: layer.length }],
    }));
    const manifestDigest = sha256(manifest);
    writeFileSync(join(blobs, manifestDigest), manifest);

    const tag = name.slice(name.lastIndexOf(':') + 1);
    writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    writeFileSync(join(layout, 'index.json'), JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{
        mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${manifestDigest}`, size: manifest.length,
        annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': tag },
      }],
    }));
    writeFileSync(join(layout, 'manifest.json'), JSON.stringify([{
      Config: `blobs/sha256/${configDigest}`, RepoTags: [name.replace(/^docker\.io\//, '')], Layers: [`blobs/sha256/${layerDigest}`],
    }]));
    mkdirSync(dirname(resolve(out)), { recursive: true });
    await execa('tar', ['-cf', resolve(out), ...tarFlags, '-C', layout, '.']);
    return name;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Builds the archive once per path (reused when it is newer than busybox, udpecho.c and this builder). */
export async function ensureBusyboxImage(out: string): Promise<string> {
  const inputs = [busyboxPath, findUdpechoSource(), builderPath];
  if (existsSync(out) && inputs.every(i => statSync(out).mtimeMs >= statSync(i).mtimeMs)) return testImageName;
  return buildBusyboxImage(out);
}

if (process.argv[1] && resolve(process.argv[1]).replace(/\.[jt]s$/, '') === resolve(import.meta.filename ?? '').replace(/\.[jt]s$/, '')) {
  const out = process.argv[2] ?? 'busybox-image.tar';
  const name = await buildBusyboxImage(out);
  console.log(`${out}: ${name}`);
}
