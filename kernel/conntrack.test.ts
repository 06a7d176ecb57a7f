import { encodeDelete, matches, parseFlow, type Flow } from './conntrack.js';

const flow: Flow = {
  orig: { src: '10.0.0.2', dst: '10.96.0.53', proto: 17, sport: 40001, dport: 53 },
  reply: { src: '10.128.1.2', dst: '10.0.0.2', proto: 17, sport: 5353, dport: 40001 },
};

test('a delete request carries the original tuple, and parses back', () => {
  const b = encodeDelete(flow, 7);
  expect(b.readUInt32LE(0)).toBe(b.length);
  expect(b.readUInt16LE(4)).toBe((1 << 8) | 2); // CTNETLINK, CT_DELETE
  expect(b.readUInt32LE(8)).toBe(7);
  const parsed = parseFlow(Buffer.concat([b, encodeTupleAs(2)]), 20, b.length + encodeTupleAs(2).length);
  expect(parsed?.orig).toEqual(flow.orig);
});

/** The reply tuple as a CTA_TUPLE_REPLY attribute, built from a delete message of the reply. */
function encodeTupleAs(type: number): Buffer {
  const b = encodeDelete({ orig: flow.reply, reply: flow.reply }, 0).subarray(20);
  const copy = Buffer.from(b);
  copy.writeUInt16LE(type | 0x8000, 2);
  return copy;
}

test('parseFlow reads both tuples', () => {
  const orig = encodeDelete(flow, 0).subarray(20);
  const reply = encodeTupleAs(2);
  const buf = Buffer.concat([orig, reply]);
  expect(parseFlow(buf, 0, buf.length)).toEqual(flow);
});

test('filters match on protocol, original destination and reply source', () => {
  expect(matches(flow, { proto: 17, origDst: '10.96.0.53', origDstPort: 53, replySrc: '10.128.1.2' })).toBe(true);
  expect(matches(flow, { proto: 17, origDst: '10.96.0.53' })).toBe(true);
  expect(matches(flow, { proto: 6, origDst: '10.96.0.53' })).toBe(false);
  expect(matches(flow, { proto: 17, replySrc: '10.128.1.3' })).toBe(false);
  expect(matches(flow, { proto: 17, origDstPort: 54 })).toBe(false);
});
