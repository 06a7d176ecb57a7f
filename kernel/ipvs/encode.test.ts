import { decodeDest, type IpvsOp, decodeService, describeOp, encodeDump, encodeOps, parseAttrs, splitMessages } from './encode.js';

const svc = { address: '10.96.0.10', protocol: 'TCP' as const, port: 80, scheduler: 'rr', flags: 0, timeout: 0 };
const hex = (b: Buffer): string => b.toString('hex');

test('NEW_SERVICE encodes a full IPv4 virtual server exactly as libipvs does', () => {
  const enc = encodeOps(0x23, [{ op: 'addService', service: svc }], 7);
  expect(hex(enc.bytes)).toBe([
    '68000000', '2300', '0500', '07000000', '00000000', // nlmsghdr: len 104, family 0x23, REQUEST|ACK, seq 7
    '01', '01', '0000', // genlmsghdr: IPVS_CMD_NEW_SERVICE, version 1
    '5400', '0180', // IPVS_CMD_ATTR_SERVICE, nested, 84 bytes
    '0600', '0100', '0200', '0000', // AF = AF_INET (u16) + pad
    '0600', '0200', '0600', '0000', // PROTOCOL = 6
    '1400', '0300', '0a60000a', '000000000000000000000000', // ADDR: 16 bytes, IPv4 first
    '0600', '0400', '0050', '0000', // PORT = 80, network order
    '0700', '0600', '727200', '00', // SCHED_NAME "rr\0"
    '0c00', '0700', '00000000', 'ffffffff', // FLAGS {flags 0, mask ~0}
    '0800', '0800', '00000000', // TIMEOUT 0
    '0800', '0900', 'ffffffff', // NETMASK /32
  ].join(''));
  expect(enc.ends).toEqual([104]);
});

test('NEW_DEST carries the service key and a full masquerading destination', () => {
  const enc = encodeOps(0x23, [{ op: 'addDest', service: svc, dest: { address: '10.244.1.5', port: 8080, weight: 1 } }], 1);
  const [m] = splitMessages(enc.bytes);
  expect(m!.body[0]).toBe(5); // IPVS_CMD_NEW_DEST
  const top = parseAttrs(m!.body.subarray(4));
  const s = parseAttrs(top.get(1)!);
  expect([...s.keys()]).toEqual([1, 2, 3, 4]); // only the key: AF, PROTOCOL, ADDR, PORT
  const d = parseAttrs(top.get(2)!);
  expect(hex(d.get(1)!)).toBe('0af40105000000000000000000000000');
  expect(hex(d.get(2)!)).toBe('1f90'); // 8080 big-endian
  expect(d.get(3)!.readUInt32LE(0)).toBe(0); // IP_VS_CONN_F_MASQ
  expect(d.get(4)!.readUInt32LE(0)).toBe(1); // weight
  expect(d.get(11)!.readUInt16LE(0)).toBe(2); // ADDR_FAMILY AF_INET
  expect(d.has(5) && d.has(6)).toBe(true); // thresholds are required for a full entry
});

test('ClientIP affinity is the PERSISTENT flag with its timeout', () => {
  const enc = encodeOps(0x23, [{ op: 'updateService', service: { ...svc, flags: 1, timeout: 10800 } }], 1);
  const [m] = splitMessages(enc.bytes);
  expect(m!.body[0]).toBe(2); // SET_SERVICE
  const s = parseAttrs(parseAttrs(m!.body.subarray(4)).get(1)!);
  expect(hex(s.get(7)!)).toBe('01000000ffffffff');
  expect(s.get(8)!.readUInt32LE(0)).toBe(10800);
});

test('deletes carry only keys, and only the messages chosen ask for an ACK', () => {
  const enc = encodeOps(0x23, [
    { op: 'delDest', service: svc, dest: { address: '10.244.1.5', port: 8080 } },
    { op: 'delService', service: svc },
    { op: 'flush' },
  ], 100, (i) => i === 2);
  const ms = splitMessages(enc.bytes);
  expect(ms.map((m) => [m.body[0], m.seq, m.flags])).toEqual([[7, 100, 1], [3, 101, 1], [17, 102, 5]]);
  expect([...parseAttrs(parseAttrs(ms[0]!.body.subarray(4)).get(2)!).keys()]).toEqual([1, 2]);
  expect(ms[2]!.body.length).toBe(4); // FLUSH has no attributes
  expect(enc.ends).toEqual([ms[0]!.body.length + 16, ms[0]!.body.length + ms[1]!.body.length + 32, enc.bytes.length]);
});

test('dump requests: GET_SERVICE bare, GET_DEST naming its service', () => {
  const all = splitMessages(encodeDump(0x23, 9))[0]!;
  expect([all.flags, all.body[0], all.body.length]).toEqual([0x301, 4, 4]);
  const dests = splitMessages(encodeDump(0x23, 9, svc))[0]!;
  expect(dests.body[0]).toBe(8);
  expect(parseAttrs(parseAttrs(dests.body.subarray(4)).get(1)!).get(4)!.readUInt16BE(0)).toBe(80);
});

test('decoding what the kernel sends back: HASHED is dropped, ports are network order', () => {
  // A NEW_SERVICE as the kernel dumps it is what we encode plus HASHED (and stats, ignored).
  const enc = encodeOps(0x23, [{ op: 'addService', service: { ...svc, flags: 1, timeout: 30 } }], 1);
  const m = splitMessages(enc.bytes)[0]!;
  const b = Buffer.from(m.body);
  const flagsAt = b.indexOf(Buffer.from('0c000700', 'hex'));
  b.writeUInt32LE(0x3, flagsAt + 4); // PERSISTENT | HASHED
  expect(decodeService({ ...m, body: b })).toEqual({ ...svc, flags: 1, timeout: 30 });
  const d = splitMessages(encodeOps(0x23, [{ op: 'addDest', service: svc, dest: { address: '10.244.1.5', port: 8080, weight: 3 } }], 1).bytes)[0]!;
  expect(decodeDest(d)).toEqual({ address: '10.244.1.5', port: 8080, weight: 3, fwdMethod: 0, activeConns: 0, inactiveConns: 0 });
});

test('bad input is refused naming the value', () => {
  expect(() => encodeOps(0x23, [{ op: 'addService', service: { ...svc, address: '10.96.0.256' } }], 1)).toThrow('invalid IPv4 address "10.96.0.256"');
  expect(() => encodeOps(0x23, [{ op: 'addService', service: { ...svc, port: 70000 } }], 1)).toThrow('invalid virtual server port 70000');
  expect(describeOp({ op: 'delDest', service: svc, dest: { address: '10.244.1.5', port: 8080 } })).toBe('delete real server 10.244.1.5:8080 from TCP 10.96.0.10:80');
});

test('a large batch that outgrows the first buffer decodes back to every op intact', () => {
  const ops: IpvsOp[] = [];
  for (let i = 0; i < 300; i++) {
    const service = { ...svc, address: `10.96.${i >> 8}.${i & 255}` };
    ops.push({ op: 'addService', service });
    for (let j = 0; j < 10; j++) ops.push({ op: 'addDest', service, dest: { address: `10.128.${j}.${i & 255}`, port: 8080, weight: j + 1 } });
  }
  const ms = splitMessages(encodeOps(0x23, ops, 1).bytes);
  expect(ms).toHaveLength(ops.length);
  ms.forEach((m, i) => {
    const o = ops[i]!;
    if (o.op === 'addService') expect(decodeService(m)).toEqual(o.service);
    else if (o.op === 'addDest') expect(decodeDest(m)).toMatchObject(o.dest);
  });
});
