// The iptables applier against the real tools in test namespaces, for both backends: partial syncs
// leave the kernel exactly as a full sync of the same services would, a refused restore leaves the
// previous rules serving, drift is repaired, stale chains go, and cleanup leaves others' rules.
import { jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { BULK_LINES, Iptables, IptablesError, type IptablesBackend } from '../../kernel/iptables/restore.js';
import { createNetns, deleteNetns, execInNetns } from '../../kernel/netns.js';
import { createLab, type Lab } from '../../kernel/testlab.js';
import { endpoint, service, slice } from '../fixtures.js';
import { buildServiceModel, type ServicePortModel } from '../model.js';
import { IptablesApplier } from './apply.js';
import { compileIptables, type IptablesRuleset } from './compile.js';

jest.setTimeout(60_000);

/** iptables-save without comments, counters and dates, chains and rules sorted: what the kernel holds. */
async function kernelRules(ns: string, backend: IptablesBackend): Promise<string> {
  const out = await execInNetns(ns, `iptables-${backend}-save`, []);
  return out.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.replace(/ \[\d+:\d+\]$/, '')).sort().join('\n');
}

describe.each(['nft', 'legacy'] as const)('iptables applier (%s backend)', (backend) => {
  let lab: Lab;
  let ipt: Iptables;
  beforeAll(async () => {
    lab = await createLab(2);
    await lab.startServers(8080);
    ipt = new Iptables({ backend, netns: lab.node });
  }, 60_000);
  afterAll(async () => {
    await new IptablesApplier(ipt).cleanup().catch(() => undefined);
    await lab?.destroy();
  });
  const compile = (services: readonly ServicePortModel[]): IptablesRuleset =>
    compileIptables({ services, nodeName: 'n1', nodeIPs: [lab.nodeClientIP], clusterCIDR: '10.128.0.0/9' });

  test('after a series of partial syncs the kernel holds exactly what one full sync of the result gives', async () => {
    const applier = new IptablesApplier(ipt);
    // Deterministic pseudo-random changes over 30 services: add, remove, resize, toggle affinity and NodePort.
    let seed = 7;
    const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
    const specs = new Map<number, { eps: number; aff: boolean; np: boolean }>();
    const model = (): ServicePortModel[] => {
      const ids = [...specs.keys()];
      return buildServiceModel(
        ids.map((i) => service(`s${i}`, `10.96.1.${i + 1}`, specs.get(i)!.np
          ? { type: 'NodePort', ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30000 + i }], ...(specs.get(i)!.aff ? { sessionAffinity: 'ClientIP' } : {}) }
          : specs.get(i)!.aff ? { sessionAffinity: 'ClientIP' } : {})),
        ids.map((i) => slice(`s${i}`, Array.from({ length: specs.get(i)!.eps }, (_, j) => endpoint(`10.128.${j + 1}.${i + 10}`)))),
      );
    };
    for (let i = 0; i < 20; i++) specs.set(i, { eps: 1 + rnd(3), aff: false, np: i % 3 === 0 });
    expect((await applier.sync(compile(model()))).full).toBe(true);
    let partial = 0;
    for (let step = 0; step < 25; step++) {
      const i = rnd(30);
      const s = specs.get(i);
      const r = rnd(4);
      if (!s) specs.set(i, { eps: rnd(4), aff: rnd(2) === 1, np: rnd(2) === 1 });
      else if (r === 0) specs.delete(i);
      else if (r === 1) s.eps = rnd(4);
      else if (r === 2) s.aff = !s.aff;
      else s.np = !s.np;
      const res = await applier.sync(compile(model()));
      if (!res.full) partial++;
    }
    expect(partial).toBe(25);
    const scratch = `k8ts-t-${randomBytes(4).toString('hex')}`;
    await createNetns(scratch);
    try {
      await new IptablesApplier(new Iptables({ backend, netns: scratch })).sync(compile(model()));
      expect(await kernelRules(lab.node, backend)).toBe(await kernelRules(scratch, backend));
      // Sorting hides order; the one order that matters: the NodePorts jump stays last.
      const nat = (await execInNetns(lab.node, `iptables-${backend}-save`, ['-t', 'nat'])).split('\n').filter((l) => l.startsWith('-A KUBE-SERVICES '));
      expect(nat.length).toBeGreaterThan(10);
      expect(nat.at(-1)).toContain('-j KUBE-NODEPORTS');
    } finally {
      await deleteNetns(scratch);
    }
    await applier.cleanup();
  });

  const two = (): ServicePortModel[] => buildServiceModel([service('web', '10.96.0.10')], [slice('web', [endpoint(lab.backendIP(1)), endpoint(lab.backendIP(2))])]);
  const one = (): ServicePortModel[] => buildServiceModel([service('web', '10.96.0.10')], [slice('web', [endpoint(lab.backendIP(1))])]);

  test('a restore the kernel refuses leaves the previous rules serving; the retry is a full sync', async () => {
    const applier = new IptablesApplier(ipt);
    await applier.sync(compile(one()));
    const next = compile(two());
    // The same services plus a rule jumping to a chain that does not exist (a changed base: full sync).
    const broken: IptablesRuleset = { ...next, baseKey: 'broken', statics: next.statics.map((c) => (c.name === 'KUBE-MARK-MASQ' ? { ...c, rules: [...c.rules, '-j KUBE-MISSING'] } : c)) };
    const err = await applier.sync(broken).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IptablesError);
    // legacy names the rule's line, nft the COMMIT of its table; both name the missing chain.
    expect((err as IptablesError).message).toContain('KUBE-MISSING');
    expect((err as IptablesError).line).toBeGreaterThan(0);
    expect(applier.installed).toBeUndefined();
    expect(await lab.connectMany('10.96.0.10', 80, 10)).toEqual(Array(10).fill(lab.backends[0]));
    const r = await applier.sync(next);
    expect(r.full).toBe(true);
    expect(new Set(await lab.connectMany('10.96.0.10', 80, 30)).size).toBe(2);
  });

  test('drift (a rule deleted by hand) makes the partial sync fail, and the retry repairs it', async () => {
    const applier = new IptablesApplier(ipt);
    await applier.sync(compile(two()));
    const save = await execInNetns(lab.node, `iptables-${backend}-save`, ['-t', 'nat']);
    const rule = save.split('\n').find((l) => l.startsWith('-A KUBE-SERVICES') && l.includes('10.96.0.10'))!;
    await execInNetns(lab.node, `iptables-${backend}`, ['-t', 'nat', '-D', ...rule.slice(3).match(/"[^"]*"|\S+/g)!.map((a) => a.replace(/"/g, ''))]);
    expect(await lab.connectMany('10.96.0.10', 80, 1, 1000)).toEqual(['ERR:TIMEOUT']); // nothing DNATs it now
    // Removing the service needs `-D` of that rule: refused, nothing applied.
    await expect(applier.sync(compile([]))).rejects.toThrow(IptablesError);
    expect((await applier.sync(compile(two()))).full).toBe(true);
    expect(new Set(await lab.connectMany('10.96.0.10', 80, 30)).size).toBe(2);
  });

  test('a new applier (a restarted proxy) deletes the chains of services that went away while it was down', async () => {
    await new IptablesApplier(ipt).sync(compile(two()));
    const before = await execInNetns(lab.node, `iptables-${backend}-save`, ['-t', 'nat']);
    expect(before.match(/^:KUBE-SEP-/gm)).toHaveLength(2);
    const r = await new IptablesApplier(ipt).sync(compile([]));
    expect(r.full).toBe(true);
    const after = await execInNetns(lab.node, `iptables-${backend}-save`, ['-t', 'nat']);
    expect(after).not.toMatch(/KUBE-(SVC|SEP)-/);
    expect(await lab.connectMany('10.96.0.10', 80, 1, 1000)).toEqual(['ERR:TIMEOUT']);
  });

  test('a full sync too large for one pipe buffer streams in, then a restarted applier resyncs it on the loaded table', async () => {
    // 700 services × 8 endpoints: 24 500 lines (more than BULK_LINES: the nft backend's bulk
    // fetch), 1.7 MB of input built while iptables-restore reads it. Service 0 reaches the lab.
    const big = (n: number): ServicePortModel[] => buildServiceModel(
      Array.from({ length: n }, (_, i) => service(`b${i}`, `10.97.${(i + 1) >> 8}.${(i + 1) & 255}`)),
      Array.from({ length: n }, (_, i) => slice(`b${i}`, i === 0
        ? [endpoint(lab.backendIP(1)), endpoint(lab.backendIP(2))]
        : Array.from({ length: 8 }, (_, j) => endpoint(`10.129.${i >> 4}.${(i & 15) * 16 + j + 1}`)))),
    );
    const count = async (): Promise<{ svc: number; sep: number; services: number }> => {
      const nat = await execInNetns(lab.node, `iptables-${backend}-save`, ['-t', 'nat']);
      return { svc: nat.match(/^:KUBE-SVC-/gm)?.length ?? 0, sep: nat.match(/^:KUBE-SEP-/gm)?.length ?? 0, services: nat.match(/^-A KUBE-SERVICES .* -j KUBE-SVC-/gm)?.length ?? 0 };
    };
    const r = await new IptablesApplier(ipt).sync(compile(big(700)));
    expect(r).toMatchObject({ full: true });
    expect(r.lines).toBeGreaterThan(BULK_LINES);
    expect(await count()).toEqual({ svc: 700, sep: 2 + 699 * 8, services: 700 });
    expect(new Set(await lab.connectMany('10.97.0.1', 80, 20)).size).toBe(2);
    // The table is loaded now: a new applier's full sync reads it back and drops what went away.
    const again = await new IptablesApplier(ipt).sync(compile(big(650)));
    expect(again.full).toBe(true);
    expect(await count()).toEqual({ svc: 650, sep: 2 + 649 * 8, services: 650 });
    expect(new Set(await lab.connectMany('10.97.0.1', 80, 20)).size).toBe(2);
    await new IptablesApplier(ipt).cleanup();
  });

  test('cleanup removes every chain and jump of ours and leaves other rules', async () => {
    const applier = new IptablesApplier(ipt);
    await applier.sync(compile(two()));
    await execInNetns(lab.node, `iptables-${backend}`, ['-t', 'filter', '-A', 'INPUT', '-p', 'tcp', '--dport', '9999', '-j', 'ACCEPT']);
    await applier.cleanup();
    const all = await execInNetns(lab.node, `iptables-${backend}-save`, []);
    expect(all).not.toContain('KUBE-');
    expect(all).toContain('-A INPUT -p tcp -m tcp --dport 9999 -j ACCEPT');
    await execInNetns(lab.node, `iptables-${backend}`, ['-t', 'filter', '-D', 'INPUT', '-p', 'tcp', '--dport', '9999', '-j', 'ACCEPT']);
  });
});
