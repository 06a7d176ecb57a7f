import { decodeHealthCheckRequest, decodeHealthCheckResponse, encodeHealthCheckRequest, encodeHealthCheckResponse, frame, servingStatusName, unframe } from './grpc-health.js';

describe('gRPC health wire format', () => {
  it('encodes HealthCheckRequest as protoc does', () => {
    // protoc --encode=grpc.health.v1.HealthCheckRequest <<< 'service: "liveness"' → 0a 08 "liveness"
    expect(encodeHealthCheckRequest('liveness').toString('hex')).toBe('00' + '0000000a' + '0a08' + Buffer.from('liveness').toString('hex'));
    // The default (empty) service is not written: an empty message.
    expect(encodeHealthCheckRequest('').toString('hex')).toBe('0000000000');
    expect(decodeHealthCheckRequest(unframe(encodeHealthCheckRequest('a.b.C')))).toBe('a.b.C');
  });
  it('decodes HealthCheckResponse, skipping unknown fields', () => {
    expect(decodeHealthCheckResponse(Buffer.from('0801', 'hex'))).toBe(1);
    expect(decodeHealthCheckResponse(Buffer.from('0802', 'hex'))).toBe(2);
    // Empty message: status is the default, UNKNOWN.
    expect(decodeHealthCheckResponse(Buffer.alloc(0))).toBe(0);
    // field 2 (length-delimited "xy") and field 3 (fixed32) before status.
    expect(decodeHealthCheckResponse(Buffer.from('12027879' + '1d01020304' + '0803', 'hex'))).toBe(3);
    expect(() => decodeHealthCheckResponse(Buffer.from('1205', 'hex'))).toThrow(/truncated/);
    expect(decodeHealthCheckResponse(encodeHealthCheckResponse(2))).toBe(2);
  });
  it('frames and unframes messages, refusing compressed and short ones', () => {
    expect(unframe(frame(Buffer.from('0801', 'hex'))).toString('hex')).toBe('0801');
    expect(() => unframe(Buffer.from('0100000000', 'hex'))).toThrow(/compressed/);
    expect(() => unframe(Buffer.from('0000000005', 'hex'))).toThrow(/truncated/);
    expect(() => unframe(Buffer.alloc(2))).toThrow(/no message/);
  });
  it('names serving statuses as upstream prints them', () => {
    expect([0, 1, 2, 3, 9].map(servingStatusName)).toEqual(['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN', '9']);
  });
});
