import { encodeBatch } from './encode.js';
import type { Batch, SetShape } from './types.js';

interface Msg { type: number; flags: number; seq: number; family: number; resId: number; body: Buffer }
function messages(b: Buffer): Msg[] {
  const out: Msg[] = [];
  for (let off = 0; off < b.length;) {
    const len = b.readUInt32LE(off);
    out.push({ type: b.readUInt16LE(off + 4), flags: b.readUInt16LE(off + 6), seq: b.readUInt32LE(off + 8), family: b[off + 16]!, resId: b.readUInt16BE(off + 18), body: b.subarray(off + 20, off + len) });
    off += (len + 3) & ~3;
  }
  return out;
}
/** Top-level attributes of a message body: type → raw value. */
function attrs(body: Buffer): Map<number, Buffer> {
  const m = new Map<number, Buffer>();
  for (let off = 0; off + 4 <= body.length;) {
    const len = body.readUInt16LE(off);
    m.set(body.readUInt16LE(off + 2) & 0x3fff, body.subarray(off + 4, off + len));
    off += (len + 3) & ~3;
  }
  return m;
}

const vmap: SetShape = { name: 'service-ips', key: ['ipv4_addr', 'inet_proto', 'inet_service'], data: 'verdict' };

test('a batch is framed by BATCH_BEGIN/END for nf_tables and numbers its messages', () => {
  const batch: Batch = { family: 'ip', table: 't', ops: [{ op: 'addTable' }, { op: 'addChain', chain: { name: 'c', base: { type: 'nat', hook: 'prerouting', priority: -100 } } }] };
  const enc = encodeBatch(batch, 1000);
  const ms = messages(enc.bytes);
  expect(ms.map((m) => m.type)).toEqual([0x10, (10 << 8) | 0, (10 << 8) | 3, 0x11]);
  expect(ms.map((m) => m.seq)).toEqual([1000, 1001, 1002, 1003]);
  expect(ms[0]!.resId).toBe(10); // NFNL_SUBSYS_NFTABLES
  expect(ms[1]!.family).toBe(2); // NFPROTO_IPV4
  expect(ms[1]!.flags & 0x4).toBe(0x4); // every command asks for an ACK
  expect(enc.messages).toEqual(['batch begin', 'addTable t', 'addChain c', 'batch end']);
  const chain = attrs(ms[2]!.body);
  expect(chain.get(3)!.toString()).toBe('c\0'); // NFTA_CHAIN_NAME
  const hook = attrs(chain.get(4)!); // NFTA_CHAIN_HOOK
  expect(hook.get(1)!.readUInt32BE(0)).toBe(0); // prerouting
  expect(hook.get(2)!.readInt32BE(0)).toBe(-100); // big-endian, signed
  expect(chain.get(7)!.toString()).toBe('nat\0');
});

test('concatenated keys pad every field to 4 bytes in network order', () => {
  const enc = encodeBatch({ family: 'ip', table: 't', ops: [{ op: 'addElements', set: vmap, elements: [{ key: ['10.96.0.1', 6, 80], data: { code: 'goto', chain: 'lb-2' } }] }] }, 1);
  const ms = messages(enc.bytes);
  const list = attrs(attrs(ms[1]!.body).get(3)!); // NFTA_SET_ELEM_LIST_ELEMENTS → LIST_ELEM
  const el = attrs(list.get(1)!);
  const key = attrs(el.get(1)!).get(1)!; // NFTA_SET_ELEM_KEY → NFTA_DATA_VALUE
  expect([...key]).toEqual([10, 96, 0, 1, 6, 0, 0, 0, 0, 80, 0, 0]);
  const verdict = attrs(attrs(el.get(2)!).get(2)!); // NFTA_SET_ELEM_DATA → NFTA_DATA_VERDICT
  expect(verdict.get(1)!.readInt32BE(0)).toBe(-4); // NFT_GOTO
  expect(verdict.get(2)!.toString()).toBe('lb-2\0');
});

test('large element lists are split so no attribute exceeds 64 KiB', () => {
  const elements = Array.from({ length: 5000 }, (_, i) => ({ key: [`10.96.${i >> 8}.${i & 255}`, 6, 80], data: { code: 'goto' as const, chain: 'lb-1' } }));
  const enc = encodeBatch({ family: 'ip', table: 't', ops: [{ op: 'addElements', set: vmap, elements }] }, 1);
  const ms = messages(enc.bytes).slice(1, -1);
  expect(ms.length).toBeGreaterThan(1);
  expect(ms.every((m) => m.body.length < 65536)).toBe(true);
  const count = ms.reduce((n, m) => {
    const l = attrs(m.body).get(3)!;
    let c = 0;
    for (let off = 0; off < l.length; off += (l.readUInt16LE(off) + 3) & ~3) c++;
    return n + c;
  }, 0);
  expect(count).toBe(5000);
});

test('an invalid address is refused with the value named', () => {
  expect(() => encodeBatch({ family: 'ip', table: 't', ops: [{ op: 'addElements', set: vmap, elements: [{ key: ['10.96.0.256', 6, 80], data: { code: 'accept' } }] }] }, 1))
    .toThrow('invalid IPv4 address "10.96.0.256"');
});

test('a set with a size declares it in NFTA_SET_DESC (the kernel then picks a fixed-size hash)', () => {
  const enc = encodeBatch({ family: 'ip', table: 't', ops: [{ op: 'addSet', set: { ...vmap, size: 4096 } }, { op: 'addSet', set: vmap }] }, 1);
  const [sized, unsized] = messages(enc.bytes).slice(1, 3).map((m) => attrs(m.body));
  expect(attrs(sized!.get(9)!).get(1)!.readUInt32BE(0)).toBe(4096); // NFTA_SET_DESC → NFTA_SET_DESC_SIZE
  expect(unsized!.has(9)).toBe(false);
});
