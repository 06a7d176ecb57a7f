import { randomBytes } from 'node:crypto';
import { createNetns, deleteNetns, execInNetns } from '../netns.js';
import { NftError, NfTablesSocket } from './socket.js';
import type { Batch, Expr, NftSet, Rule } from './types.js';

const ns = `k8ts-t-${randomBytes(4).toString('hex')}`;
let sock: NfTablesSocket;

beforeAll(async () => {
  await createNetns(ns);
  sock = NfTablesSocket.open(ns);
});
afterAll(async () => {
  sock?.close();
  await deleteNetns(ns);
});

interface NftJson { nftables: Array<Record<string, Record<string, unknown>>> }
async function listRuleset(): Promise<NftJson> {
  return JSON.parse(await execInNetns(ns, 'nft', ['-j', 'list', 'ruleset'])) as NftJson;
}
const objects = (j: NftJson, kind: string): Array<Record<string, unknown>> =>
  j.nftables.filter((o) => kind in o).map((o) => o[kind]!);

const daddrDispatch: Rule = {
  text: 'ip daddr . meta l4proto . th dport vmap @service-ips',
  exprs: [
    { op: 'payload', base: 'network', offset: 16, len: 4, dreg: 8 },
    { op: 'meta', key: 'l4proto', dreg: 9 },
    { op: 'payload', base: 'transport', offset: 2, len: 2, dreg: 10 },
    { op: 'lookup', set: 'service-ips', sreg: 8, dreg: 0 },
  ] satisfies Expr[],
};
const vmap: NftSet = {
  name: 'service-ips', key: ['ipv4_addr', 'inet_proto', 'inet_service'], data: 'verdict',
  elements: [
    { key: ['10.96.0.1', 6, 80], data: { code: 'goto', chain: 'svc-a' } },
    { key: ['10.96.0.2', 17, 53], data: { code: 'drop' } },
  ],
};

function tableBatch(table: string): Batch {
  return {
    family: 'ip', table,
    ops: [
      { op: 'addTable' },
      { op: 'addChain', chain: { name: 'svc-a' } },
      { op: 'addRule', chain: 'svc-a', rule: { text: 'counter accept', exprs: [{ op: 'counter' }, { op: 'verdict', verdict: { code: 'accept' } }] } },
      { op: 'addChain', chain: { name: 'nat-prerouting', base: { type: 'nat', hook: 'prerouting', priority: -100 } } },
      { op: 'addSet', set: vmap },
      { op: 'addElements', set: vmap, elements: vmap.elements },
      { op: 'addRule', chain: 'nat-prerouting', rule: daddrDispatch },
    ],
  };
}

test('a committed batch reads back through nft with its chains, map elements and rules', async () => {
  await sock.commit(tableBatch('k8ts-a'));
  const j = await listRuleset();
  expect(objects(j, 'table').map((t) => t.name)).toContain('k8ts-a');
  const chains = objects(j, 'chain').filter((c) => c.table === 'k8ts-a');
  expect(chains.map((c) => c.name).sort()).toEqual(['nat-prerouting', 'svc-a']);
  expect(chains.find((c) => c.name === 'nat-prerouting')).toMatchObject({ type: 'nat', hook: 'prerouting', prio: -100, policy: 'accept' });
  const map = objects(j, 'map').find((m) => m.name === 'service-ips')!;
  expect(map.type).toEqual(['ipv4_addr', 'inet_proto', 'inet_service']);
  expect(map.map).toBe('verdict');
  expect(JSON.stringify(map.elem)).toContain('10.96.0.1');
  expect(JSON.stringify(map.elem)).toContain('"goto":{"target":"svc-a"}');
  const text = await execInNetns(ns, 'nft', ['list', 'table', 'ip', 'k8ts-a']);
  expect(text).toContain('ip daddr . meta l4proto . th dport vmap @service-ips');
  expect(text).toContain('10.96.0.2 . udp . 53 : drop');
});

test('a batch the kernel refuses is all-or-nothing and names the refused message', async () => {
  const bad: Batch = {
    family: 'ip', table: 'k8ts-a',
    ops: [
      { op: 'addChain', chain: { name: 'new-chain' } },
      { op: 'addRule', chain: 'svc-a', rule: { text: 'goto nowhere', exprs: [{ op: 'verdict', verdict: { code: 'goto', chain: 'no-such-chain' } }] } },
    ],
  };
  const err = await sock.commit(bad).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(NftError);
  expect((err as NftError).refusals).toEqual([expect.objectContaining({ code: 'ENOENT', message: 'addRule svc-a: goto nowhere' })]);
  const chains = objects(await listRuleset(), 'chain').map((c) => c.name);
  expect(chains).not.toContain('new-chain');
});

test('flush, element deletion and table deletion', async () => {
  await sock.commit({
    family: 'ip', table: 'k8ts-a',
    ops: [{ op: 'flushChain', name: 'svc-a' }, { op: 'delElements', set: vmap, elements: [vmap.elements[1]!] }],
  });
  const text = await execInNetns(ns, 'nft', ['list', 'table', 'ip', 'k8ts-a']);
  expect(text).not.toContain('10.96.0.2');
  expect(text).not.toContain('counter');
  await sock.commit({ family: 'ip', table: 'k8ts-a', ops: [{ op: 'delTable' }] });
  expect(objects(await listRuleset(), 'table')).toEqual([]);
});

test('one transaction can exceed net.core.wmem_max (SO_SNDBUFFORCE), here ~9 MB', async () => {
  expect(sock.maxBatchBytes).toBeGreaterThan(64 * 1024 * 1024);
  const big: NftSet = { name: 'big', key: ['ipv4_addr', 'inet_proto', 'inet_service', 'mark'], data: ['ipv4_addr', 'inet_service'], elements: [] };
  const elements = Array.from({ length: 200_000 }, (_, i) => ({ key: [`10.${96 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`, 6, 80, i % 10], data: ['10.128.0.1', 8080] }));
  const r = await sock.commit({ family: 'ip', table: 'k8ts-big', ops: [{ op: 'addTable' }, { op: 'addSet', set: big }, { op: 'addElements', set: big, elements }] });
  expect(r.bytes).toBeGreaterThan(8_400_000); // above the 2 × wmem_max SO_SNDBUF allows
  const count = await execInNetns(ns, 'sh', ['-c', 'nft list map ip k8ts-big big | grep -c " : 10.128.0.1 . 8080"']);
  expect(Number(count.trim())).toBe(200_000);
  await sock.commit({ family: 'ip', table: 'k8ts-big', ops: [{ op: 'delTable' }] });
}, 60_000);
