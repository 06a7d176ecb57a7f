// securityContext runAsUser / runAsGroup / supplementalGroups (and fsGroup) for containers run
// through `ctr run`, which has no flag for the process user.
//
// Design notes: the user goes into the container's OCI spec as upstream's CRI puts it there
// (process.user.uid, gid, additionalGids). `ctr run` cannot set it, but it can (a) attach OCI
// annotations and (b) name the runc binary the shim uses for that container. So the agent
// annotates the container with the wanted ids and names a small wrapper as its runc: on `runc
// create` the wrapper writes the ids from the annotations into the bundle's config.json, then
// execs the real runc with the same arguments (every other runc call passes straight through).
// Only containers with a user pay for the wrapper. Like the log writer it is Perl (JSON::PP is in
// Perl's core; ~5 ms per create). Rejected: `ctr run --config` (a full spec of our own, giving up
// the image's rootfs and config handling that ctr does), and a setuid helper inside the
// container (it would need a static binary of ours in every image).
//
// Exec'd processes (kubectl exec, exec probes and hooks) get `ctr tasks exec --user uid:gid` from
// the container's `io.k8ts.run-as` label, since `ctr tasks exec` copies containerd's stored spec,
// which the wrapper does not change. Their supplemental groups come from the wrapper too: on `runc
// exec` it copies the groups annotation of the container's bundle into the process spec.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Container, Pod } from 'kubernetes-types/core/v1.js';

export const runAsAnnotations = {
  user: 'io.k8ts.run-as-user',
  group: 'io.k8ts.run-as-group',
  groups: 'io.k8ts.supplemental-groups',
} as const;

export interface RunAs {
  uid?: number;
  gid?: number;
  additionalGids: number[];
}

/**
 * The process identity from the pod's and the container's securityContext (the container's wins
 * field by field, as upstream); undefined when neither sets one. Throws with upstream's message
 * when runAsNonRoot contradicts runAsUser 0.
 */
export function planRunAs(pod: Pod, c: Container): RunAs | undefined {
  const ps = pod.spec?.securityContext ?? {};
  const cs = c.securityContext ?? {};
  const uid = cs.runAsUser ?? ps.runAsUser;
  const gid = cs.runAsGroup ?? ps.runAsGroup;
  const nonRoot = cs.runAsNonRoot ?? ps.runAsNonRoot;
  if (nonRoot && uid === 0) throw new Error('container\'s runAsUser breaks non-root policy (pod: ' + `"${pod.metadata?.name ?? ''}_${pod.metadata?.namespace ?? ''}(${pod.metadata?.uid ?? ''})", container: ${c.name})`);
  const additionalGids = [...new Set([...(ps.supplementalGroups ?? []), ...(ps.fsGroup !== undefined ? [ps.fsGroup] : [])])];
  if (uid === undefined && gid === undefined && additionalGids.length === 0) return undefined;
  return { ...(uid !== undefined ? { uid } : {}), ...(gid !== undefined ? { gid } : {}), additionalGids };
}

/** Whether the container must prove it is not root: runAsNonRoot true and no runAsUser to go by. */
export function needsImageUserCheck(pod: Pod, c: Container): boolean {
  const ps = pod.spec?.securityContext ?? {};
  const cs = c.securityContext ?? {};
  return (cs.runAsNonRoot ?? ps.runAsNonRoot) === true && (cs.runAsUser ?? ps.runAsUser) === undefined;
}

/**
 * Upstream's verifyRunAsNonRoot against the image's USER (pkg/kubelet/kuberuntime): with
 * runAsNonRoot and no runAsUser, an image that runs as uid 0 (USER 0, or no USER) is refused, and so
 * is a named user (it cannot be verified without the image's /etc/passwd, as upstream says); a
 * numeric non-zero uid passes. Returns the error message, or undefined when the container may run.
 */
export function verifyRunAsNonRoot(pod: Pod, c: Container, imageUser: string): string | undefined {
  if (!needsImageUserCheck(pod, c)) return undefined;
  const podRef = `"${pod.metadata?.name ?? ''}_${pod.metadata?.namespace ?? ''}(${pod.metadata?.uid ?? ''})"`;
  // `user`, `user:group`, `uid` or `uid:gid`: only the part before the colon names the user.
  const user = imageUser.split(':')[0] ?? '';
  if (user === '' || /^0+$/.test(user)) return `container has runAsNonRoot and image will run as root (pod: ${podRef}, container: ${c.name})`;
  if (!/^\d+$/.test(user)) return `container has runAsNonRoot and image has non-numeric user (${user}), cannot verify user is non-root (pod: ${podRef}, container: ${c.name})`;
  return undefined;
}

/** The annotations that carry a RunAs to the wrapper. */
export function runAsToAnnotations(r: RunAs): Record<string, string> {
  return {
    ...(r.uid !== undefined ? { [runAsAnnotations.user]: String(r.uid) } : {}),
    // A uid without a group runs with group 0, as upstream does for a uid the image does not name.
    ...(r.gid !== undefined || r.uid !== undefined ? { [runAsAnnotations.group]: String(r.gid ?? 0) } : {}),
    ...(r.additionalGids.length ? { [runAsAnnotations.groups]: r.additionalGids.join(',') } : {}),
  };
}

export function runcWrapperScript(runc: string): string {
  return String.raw`#!/usr/bin/perl
# k8ts runc wrapper (generated by the k8ts agent; see agent/run-as.ts): on create, sets the
# process user of the bundle's OCI spec from k8ts annotations, then runs the real runc.
use strict;
use warnings;
my $runc = '${runc}';
my ($create, $exec, $bundle, $process, $log);
for (my $i = 0; $i < @ARGV; $i++) {
  $create = 1 if $ARGV[$i] eq 'create';
  $exec = 1 if $ARGV[$i] eq 'exec';
  $bundle = $ARGV[$i + 1] if ($ARGV[$i] eq '--bundle' || $ARGV[$i] eq '-b') && $i + 1 < @ARGV;
  $bundle = $1 if $ARGV[$i] =~ /^--bundle=(.*)$/;
  $process = $ARGV[$i + 1] if ($ARGV[$i] eq '--process' || $ARGV[$i] eq '-p') && $i + 1 < @ARGV;
  $process = $1 if $ARGV[$i] =~ /^--process=(.*)$/;
  $log = $ARGV[$i + 1] if $ARGV[$i] eq '--log' && $i + 1 < @ARGV;
}
patch_spec("$bundle/config.json") if $create && defined $bundle;
# An exec'd process (kubectl exec, exec probes) gets the container's supplemental groups too, as
# upstream's do: containerd builds its process spec without them. The shim logs to
# <bundle>/log.json, which is how the bundle (and its annotations) is found.
patch_process($process, $1) if $exec && defined $process && defined $log && $log =~ m{^(.*)/log\.json$};
exec { $runc } $runc, @ARGV or die "k8ts-runc: exec $runc: $!\n";

sub read_json {
  my ($file) = @_;
  require JSON::PP;
  open(my $in, '<', $file) or die "k8ts-runc: $file: $!\n";
  my $text = do { local $/; <$in> };
  close $in;
  return JSON::PP->new->canonical->decode($text);
}

sub write_json {
  my ($file, $doc) = @_;
  open(my $out, '>', "$file.k8ts") or die "k8ts-runc: $file.k8ts: $!\n";
  print $out JSON::PP->new->canonical->encode($doc);
  close $out or die "k8ts-runc: $file.k8ts: $!\n";
  rename("$file.k8ts", $file) or die "k8ts-runc: $file: $!\n";
}

sub patch_process {
  my ($file, $dir) = @_;
  return unless -f "$dir/config.json";
  my $groups = (read_json("$dir/config.json")->{annotations} || {})->{'${runAsAnnotations.groups}'};
  return unless defined $groups;
  my $proc = read_json($file);
  ($proc->{user} ||= {})->{additionalGids} = [map { num($_) } split /,/, $groups];
  write_json($file, $proc);
}

sub patch_spec {
  my ($file) = @_;
  my $spec = read_json($file);
  my $a = $spec->{annotations} || {};
  my $user = ($spec->{process}{user} ||= {});
  # num() works on a copy: numeric use of the annotation itself would make JSON::PP write it as a
  # number, and runc wants annotations as strings.
  $user->{uid} = num($a->{'${runAsAnnotations.user}'}) if defined $a->{'${runAsAnnotations.user}'};
  $user->{gid} = num($a->{'${runAsAnnotations.group}'}) if defined $a->{'${runAsAnnotations.group}'};
  $user->{additionalGids} = [map { num($_) } split /,/, $a->{'${runAsAnnotations.groups}'}] if defined $a->{'${runAsAnnotations.groups}'};
  write_json($file, $spec);
}

sub num { my ($v) = @_; return 0 + $v; }
`;
}

/**
 * Installs the wrapper under `<dataDir>/bin` (rewritten only when it changed) and returns its
 * path; undefined without Perl or runc (containers with a user then fail with a config error).
 */
export function ensureRuncWrapper(dataDir: string, perl = '/usr/bin/perl', runcCandidates = ['/usr/sbin/runc', '/usr/bin/runc', '/usr/local/sbin/runc', '/usr/local/bin/runc']): string | undefined {
  const runc = runcCandidates.find(p => existsSync(p));
  if (!runc || !existsSync(perl)) return undefined;
  const path = join(dataDir, 'bin', 'k8ts-runc');
  const text = runcWrapperScript(runc).replace('#!/usr/bin/perl', `#!${perl}`);
  if (existsSync(path) && readFileSync(path, 'utf8') === text) return path;
  mkdirSync(join(dataDir, 'bin'), { recursive: true });
  writeFileSync(`${path}.tmp`, text, { mode: 0o755 });
  renameSync(`${path}.tmp`, path);
  return path;
}
