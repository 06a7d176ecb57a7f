// The wire format of the gRPC health checking protocol (grpc/grpc doc/health-checking.md), for
// grpc probes: `grpc.health.v1.Health/Check` with a HealthCheckRequest {string service = 1} and a
// HealthCheckResponse {ServingStatus status = 1}, each in gRPC's length-prefixed message framing
// (1 byte compressed flag, 4 bytes big-endian length). Pure: agent/probe-net.ts does the HTTP/2.
//
// Design notes: the two messages have one field each, so a hand-written protobuf encoder and
// decoder (varints and length-delimited fields) is a few lines; a protobuf library and generated
// code for them would be a dependency for nothing. The decoder skips unknown fields, as protobuf
// requires, so a newer server's response still parses.

export const healthCheckPath = '/grpc.health.v1.Health/Check';

/** HealthCheckResponse.ServingStatus, by number (the names upstream prints in probe messages). */
export const servingStatusNames = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const;

/** gRPC status codes the probe reports by name (google.golang.org/grpc/codes). */
export const grpcCodes = { OK: 0, DeadlineExceeded: 4, Unimplemented: 12 } as const;

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128); }
  out.push(n);
  return out;
}

/** Reads a varint at `pos`; returns the value and the next position. */
function readVarint(b: Uint8Array, pos: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (let i = pos; i < b.length && i < pos + 10; i++) {
    v += (b[i]! & 0x7f) * mul;
    mul *= 128;
    if ((b[i]! & 0x80) === 0) return [v, i + 1];
  }
  throw new Error('truncated varint');
}

/** A HealthCheckRequest in gRPC framing (an empty service is the default field, so not written). */
export function encodeHealthCheckRequest(service: string): Buffer {
  const s = Buffer.from(service, 'utf8');
  const msg = s.length ? Buffer.concat([Buffer.from([0x0a, ...varint(s.length)]), s]) : Buffer.alloc(0);
  return frame(msg);
}

/** Wraps one message in gRPC's framing, uncompressed. */
export function frame(msg: Uint8Array): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(msg.length, 1);
  return Buffer.concat([head, msg]);
}

/** The first whole message of a gRPC response body; throws on compression or a short body. */
export function unframe(body: Buffer): Buffer {
  if (body.length < 5) throw new Error('response has no message');
  if (body[0] !== 0) throw new Error('compressed response messages are not supported');
  const len = body.readUInt32BE(1);
  if (body.length < 5 + len) throw new Error('truncated response message');
  return body.subarray(5, 5 + len);
}

/** HealthCheckResponse.status (0, UNKNOWN, when absent as protobuf's default). */
export function decodeHealthCheckResponse(msg: Uint8Array): number {
  let status = 0;
  let pos = 0;
  while (pos < msg.length) {
    const [key, p] = readVarint(msg, pos);
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) {
      const [v, q] = readVarint(msg, p);
      if (field === 1) status = v;
      pos = q;
    } else if (wire === 2) {
      const [len, q] = readVarint(msg, p);
      pos = q + len;
    } else if (wire === 1) {
      pos = p + 8;
    } else if (wire === 5) {
      pos = p + 4;
    } else {
      throw new Error(`unsupported protobuf wire type ${wire}`);
    }
    if (pos > msg.length) throw new Error('truncated protobuf field');
  }
  return status;
}

/** The request a server sees: the service name of a HealthCheckRequest (test servers). */
export function decodeHealthCheckRequest(msg: Uint8Array): string {
  let pos = 0;
  let service = '';
  while (pos < msg.length) {
    const [key, p] = readVarint(msg, pos);
    if ((key & 7) !== 2) throw new Error('unexpected field in HealthCheckRequest');
    const [len, q] = readVarint(msg, p);
    if (Math.floor(key / 8) === 1) service = Buffer.from(msg.subarray(q, q + len)).toString('utf8');
    pos = q + len;
  }
  return service;
}

/** A HealthCheckResponse message (unframed), for test servers. */
export function encodeHealthCheckResponse(status: number): Buffer {
  return status === 0 ? Buffer.alloc(0) : Buffer.from([0x08, ...varint(status)]);
}

export function servingStatusName(n: number): string {
  return servingStatusNames[n] ?? String(n);
}
