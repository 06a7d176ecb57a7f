import {
  addQuantities, canonicalQuantity, compareQuantities, formatQuantity, newMilliQuantity, newQuantity,
  parseQuantity, quantityFormatError, quantitySuffixError, scaledValue, subtractQuantities, toBytes,
  toMillis, toUnits, tryParseQuantity,
} from './quantity.js';

const q = parseQuantity;

describe('canonicalQuantity', () => {
  it.each([
    ['0', '0'], ['0.0', '0'], ['-0', '0'], ['0Mi', '0'],
    ['1', '1'], ['1500m', '1500m'], ['1.5', '1500m'], ['0.1', '100m'], ['100m', '100m'],
    ['1000', '1k'], ['1500', '1500'], ['2000', '2k'], ['1000000', '1M'], ['12345', '12345'],
    ['1k', '1k'], ['1.5k', '1500'], ['1M', '1M'], ['1G', '1G'], ['2.5G', '2500M'], ['1T', '1T'], ['1P', '1P'], ['1E', '1E'],
    ['1n', '1n'], ['1u', '1u'], ['0.5u', '500n'], ['0.1n', '1n'], ['1.0000000001', '1000000001n'],
    ['1Ki', '1Ki'], ['1024Mi', '1Gi'], ['1536Mi', '1536Mi'], ['0.5Gi', '512Mi'], ['1.5Ki', '1536'],
    ['512Ki', '512Ki'], ['1024', '1024'], ['2048Ki', '2Mi'], ['100Mi', '100Mi'], ['1Ei', '1Ei'], ['1024Ei', '1024Ei'],
    ['0.5Ki', '512'], ['1.1Ki', '1126400m'],
    ['1e3', '1e3'], ['1E3', '1e3'], ['1e0', '1'], ['1.5e3', '1500'], ['1e-3', '1e-3'], ['1e2', '100'], ['1e4', '10e3'],
    ['+1', '1'], ['-1', '-1'], ['-1.5', '-1500m'], ['-1Ki', '-1Ki'], ['-1023', '-1023'], ['-2048', '-2048'],
    ['.5', '500m'], ['5.', '5'], ['007', '7'],
    ['1000E', '1000E'], ['1e21', '1e21'],
  ])('%s → %s', (input, want) => {
    expect(canonicalQuantity(input)).toBe(want);
  });

  it('accepts numbers as JSON sometimes carries them', () => {
    expect(canonicalQuantity(2)).toBe('2');
    expect(canonicalQuantity(0.25)).toBe('250m');
  });
});

describe('parseQuantity errors', () => {
  it.each(['', ' 1', '1 ', 'abc', '1x', 'Mi', '1.2.3', '.', '--1', '1e3.5', '1Mib'])('rejects %j with the regex message', input => {
    expect(() => q(input)).toThrow(quantityFormatError);
  });

  it.each(['1K', '1mi', '1Mi5', '1e', '1kM', '1ii'])('rejects the suffix of %j', input => {
    expect(() => q(input)).toThrow(quantitySuffixError);
  });

  it('reports the upstream regex text verbatim', () => {
    expect(quantityFormatError).toBe("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
    expect(tryParseQuantity('nope')).toBeUndefined();
    expect(tryParseQuantity('1')).toBeDefined();
  });
});

describe('arithmetic', () => {
  it('compares across formats and scales', () => {
    expect(compareQuantities(q('1Gi'), q('1G'))).toBe(1);
    expect(compareQuantities(q('1000m'), q('1'))).toBe(0);
    expect(compareQuantities(q('999m'), q('1'))).toBe(-1);
    expect(compareQuantities(q('1Ki'), q('1024'))).toBe(0);
  });

  it('adds exactly and keeps the first operand format', () => {
    expect(formatQuantity(addQuantities(q('100m'), q('200m')))).toBe('300m');
    expect(formatQuantity(addQuantities(q('0.1'), q('0.2')))).toBe('300m');
    expect(formatQuantity(addQuantities(q('1Gi'), q('1Gi')))).toBe('2Gi');
    expect(formatQuantity(addQuantities(q('0'), q('1Gi')))).toBe('1Gi');
    expect(formatQuantity(subtractQuantities(q('1'), q('250m')))).toBe('750m');
  });

  it('converts to millis and bytes, rounding up', () => {
    expect(toMillis(q('1.5'))).toBe(1500);
    expect(toMillis(q('100m'))).toBe(100);
    expect(toMillis(q('1n'))).toBe(1);
    expect(toBytes(q('128Mi'))).toBe(134217728);
    expect(toBytes(q('1G'))).toBe(1e9);
    expect(toUnits(q('1.5'))).toBe(2);
    expect(toUnits(q('-1.5'))).toBe(-2);
    expect(scaledValue(q('1Ei'), 0)).toBe(2n ** 60n);
  });

  it('builds quantities from numbers', () => {
    expect(formatQuantity(newMilliQuantity(250))).toBe('250m');
    expect(formatQuantity(newQuantity(1024 * 1024, 'BinarySI'))).toBe('1Mi');
    expect(formatQuantity(newQuantity(5))).toBe('5');
  });
});
