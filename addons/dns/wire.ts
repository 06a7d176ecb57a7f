// The DNS message layer around `resolve`: decode a query (FORMERR or drop when it cannot be
// read), turn a resolution into a response, and fit it into a UDP payload (TC bit when it does
// not fit, so the client retries over TCP). Pure: buffers in, buffers out. dns-packet does the
// encoding and compress.ts the name compression; this module decides what goes in, and is the one
// place that handles their throws.
import dnsPacket, { type Answer, type DecodedPacket, type Packet, type Question } from 'dns-packet';
import { compressMessage } from './compress.js';
import type { Rr } from './zone.js';

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export type Rcode = keyof typeof RCODE;

const QR = 1 << 15;
const RD = dnsPacket.RECURSION_DESIRED;
const RA = dnsPacket.RECURSION_AVAILABLE;
const AA = dnsPacket.AUTHORITATIVE_ANSWER;
const TC = dnsPacket.TRUNCATED_RESPONSE;

/** Our EDNS payload size: the DNS Flag Day 2020 value, safe from IP fragmentation. */
export const EDNS_PAYLOAD = 1232;
export const MAX_TCP_MESSAGE = 65535;

export type Parsed =
  | { kind: 'query'; packet: DecodedPacket; question: Question; udpLimit: number; edns: boolean }
  /** Answer these bytes (FORMERR, NOTIMP) without looking further. */
  | { kind: 'error'; response: Buffer }
  /** Say nothing: too short to carry an id, or itself a response (answering would loop). */
  | { kind: 'drop' };

/** A header-only response echoing the query's id, opcode and RD bit. */
export function headerOnly(query: Buffer, rcode: Rcode): Buffer {
  const out = Buffer.alloc(12);
  query.copy(out, 0, 0, 2);
  const flags = query.readUInt16BE(2);
  out.writeUInt16BE(QR | (flags & 0x7800) | (flags & RD) | RCODE[rcode], 2);
  return out;
}

export function parseQuery(buf: Buffer): Parsed {
  if (buf.length < 12) return { kind: 'drop' };
  const flags = buf.readUInt16BE(2);
  if (flags & QR) return { kind: 'drop' };
  const opcode = (flags >> 11) & 0xf;
  if (opcode !== 0) return { kind: 'error', response: headerOnly(buf, 'NOTIMP') };
  let packet: DecodedPacket;
  try {
    packet = dnsPacket.decode(buf) as DecodedPacket;
  } catch {
    return { kind: 'error', response: headerOnly(buf, 'FORMERR') };
  }
  const questions = packet.questions ?? [];
  const question = questions[0];
  if (questions.length !== 1 || !question || typeof question.name !== 'string' || (packet.answers?.length ?? 0) > 0) {
    return { kind: 'error', response: headerOnly(buf, 'FORMERR') };
  }
  const opt = (packet.additionals ?? []).find(a => a.type === 'OPT');
  const udpLimit = opt && 'udpPayloadSize' in opt ? Math.min(Math.max(opt.udpPayloadSize, 512), 4096) : 512;
  return { kind: 'query', packet, question, udpLimit, edns: opt !== undefined };
}

export interface ResponseParts {
  rcode: Rcode;
  answers?: readonly Rr[] | readonly Answer[];
  authorities?: readonly Rr[] | readonly Answer[];
  additionals?: readonly Rr[] | readonly Answer[];
  authoritative?: boolean;
}

export function buildResponse(q: Extract<Parsed, { kind: 'query' }>, parts: ResponseParts): Packet {
  const additionals = [...(parts.additionals ?? [])] as Answer[];
  if (q.edns) additionals.push({ type: 'OPT', name: '.', udpPayloadSize: EDNS_PAYLOAD, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] });
  return {
    id: q.packet.id ?? 0,
    type: 'response',
    flags: ((q.packet.flags ?? 0) & RD) | RA | (parts.authoritative ? AA : 0) | RCODE[parts.rcode],
    questions: [q.question],
    answers: [...(parts.answers ?? [])] as Answer[],
    authorities: [...(parts.authorities ?? [])] as Answer[],
    additionals,
  };
}

/**
 * Encodes a response for `limit` bytes: when it does not fit, the header and question alone with
 * TC set (RFC 2181 §9: a partial RRset would mislead). An unencodable response becomes SERVFAIL.
 */
export function encodeResponse(response: Packet, limit: number, query?: Buffer): Buffer {
  let buf: Buffer;
  try {
    buf = compressMessage(dnsPacket.encode(response));
  } catch {
    if (query && query.length >= 12) return headerOnly(query, 'SERVFAIL');
    const out = Buffer.alloc(12);
    out.writeUInt16BE(response.id ?? 0, 0);
    out.writeUInt16BE(QR | RCODE.SERVFAIL, 2);
    return out;
  }
  if (buf.length <= limit) return buf;
  const opt = (response.additionals ?? []).filter(a => a.type === 'OPT');
  try {
    const small = compressMessage(dnsPacket.encode({ ...response, flags: (response.flags ?? 0) | TC, answers: [], authorities: [], additionals: opt }));
    if (small.length <= limit) return small;
  } catch { /* fall through to the bare header */ }
  const out = Buffer.alloc(12);
  buf.copy(out, 0, 0, 4);
  out.writeUInt16BE(out.readUInt16BE(2) | TC, 2);
  return out;
}

/** Lower-case TTL-free key of a question, for the cache and in-flight coalescing. */
export function questionKey(q: Question): string {
  return `${q.name.toLowerCase().replace(/\.$/, '')}|${q.type}|${q.class ?? 'IN'}`;
}
