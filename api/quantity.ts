// Kubernetes `resource.Quantity`: `500m` CPU, `128Mi` memory, `1e3`. Parsed into an exact value
// (a bigint mantissa times a power of ten) plus the format its suffix implies, and printed back in
// upstream's canonical form, so a Pod written with `cpu: "1.5"` reads back as `cpu: 1500m` exactly
// as it would from a real apiserver, and sums never drift.
//
// Design notes:
// - Exact arithmetic: bigint mantissa and a decimal scale. Binary suffixes are exact in base 10
//   (2^10 is an integer), so one representation serves both families. Floats were rejected: `0.1`
//   CPU plus `0.2` must equal `300m`.
// - Precision stops at nano (10^-9); finer values round up, away from zero, as upstream.
// - The canonical form follows upstream's `CanonicalizeBytes`: decimal values get an exponent that
//   is a multiple of three with the smallest integer mantissa; binary values keep a binary suffix
//   only when they are whole and at least 1024 in magnitude.

export type QuantityFormat = 'DecimalSI' | 'BinarySI' | 'DecimalExponent';

export interface Quantity {
  /** The value is `mantissa × 10^scale`. */
  readonly mantissa: bigint;
  readonly scale: number;
  readonly format: QuantityFormat;
}

export const quantityFormatError = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
export const quantitySuffixError = "unable to parse quantity's suffix";
export const quantityNumericError = 'unable to parse numeric part of quantity';

export class QuantityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QuantityError';
  }
}

const formatRe = /^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$/;
const decimalSuffixes: Readonly<Record<string, number>> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const binarySuffixes: Readonly<Record<string, number>> = { Ki: 1, Mi: 2, Gi: 3, Ti: 4, Pi: 5, Ei: 6 };
const decimalSuffixByExponent = new Map(Object.entries(decimalSuffixes).map(([s, e]) => [e, s]));
const binarySuffixByPower = new Map(Object.entries(binarySuffixes).map(([s, p]) => [p, s]));
const MIN_SCALE = -9;
const MAX_DECIMAL_SI_EXPONENT = 18;

const pow10 = (n: number): bigint => 10n ** BigInt(n);
const abs = (n: bigint): bigint => (n < 0n ? -n : n);

/** `n / d` rounded away from zero (d > 0). */
function divAwayFromZero(n: bigint, d: bigint): bigint {
  const q = n / d;
  return n % d === 0n ? q : n < 0n ? q - 1n : q + 1n;
}

function make(mantissa: bigint, scale: number, format: QuantityFormat): Quantity {
  if (scale < MIN_SCALE) {
    mantissa = divAwayFromZero(mantissa, pow10(MIN_SCALE - scale));
    scale = MIN_SCALE;
  }
  return { mantissa, scale, format };
}

/** Parses a quantity string; throws `QuantityError` with upstream's messages. */
export function parseQuantity(text: string | number): Quantity {
  const str = typeof text === 'number' ? String(text) : text;
  const m = formatRe.exec(str);
  if (!m) throw new QuantityError(quantityFormatError);
  const numberPart = m[1]!;
  const suffix = m[2]!;
  const sign = numberPart.startsWith('-') ? -1n : 1n;
  const unsigned = numberPart.replace(/^[+-]/, '');
  const dot = unsigned.indexOf('.');
  if (dot !== unsigned.lastIndexOf('.')) throw new QuantityError(quantityFormatError);
  const whole = dot < 0 ? unsigned : unsigned.slice(0, dot);
  const frac = dot < 0 ? '' : unsigned.slice(dot + 1);
  if (whole === '' && frac === '') throw new QuantityError(quantityFormatError);
  const digits = BigInt((whole + frac).replace(/^0+(?=.)/, '') || '0') * sign;

  if (suffix in binarySuffixes) {
    return make(digits * 1024n ** BigInt(binarySuffixes[suffix]!), -frac.length, 'BinarySI');
  }
  if (suffix in decimalSuffixes) {
    return make(digits, decimalSuffixes[suffix]! - frac.length, 'DecimalSI');
  }
  const exp = /^[eE]([+-]?[0-9]+)$/.exec(suffix);
  if (exp) {
    const e = Number(exp[1]);
    if (!Number.isSafeInteger(e) || Math.abs(e) > 1000) throw new QuantityError(quantityNumericError);
    return make(digits, e - frac.length, 'DecimalExponent');
  }
  throw new QuantityError(quantitySuffixError);
}

/** `undefined` instead of an exception, for validation that reports its own field error. */
export function tryParseQuantity(text: string | number): Quantity | undefined {
  try {
    return parseQuantity(text);
  } catch (err) {
    if (err instanceof QuantityError) return undefined;
    throw err;
  }
}

/** A quantity of `value` whole units (e.g. bytes, cores). */
export function newQuantity(value: bigint | number, format: QuantityFormat = 'DecimalSI'): Quantity {
  return make(BigInt(value), 0, format);
}

/** A quantity of `value` thousandths (e.g. millicores). */
export function newMilliQuantity(value: bigint | number, format: QuantityFormat = 'DecimalSI'): Quantity {
  return make(BigInt(value), -3, format);
}

export function isZero(q: Quantity): boolean {
  return q.mantissa === 0n;
}

/** Both mantissas at the smaller of the two scales. */
function aligned(a: Quantity, b: Quantity): [bigint, bigint, number] {
  const scale = Math.min(a.scale, b.scale);
  return [a.mantissa * pow10(a.scale - scale), b.mantissa * pow10(b.scale - scale), scale];
}

/** -1, 0 or 1. */
export function compareQuantities(a: Quantity, b: Quantity): -1 | 0 | 1 {
  const [x, y] = aligned(a, b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The sum, in `a`'s format (or `b`'s when `a` is zero), as upstream's `Add`. */
export function addQuantities(a: Quantity, b: Quantity): Quantity {
  const [x, y, scale] = aligned(a, b);
  return make(x + y, scale, isZero(a) ? b.format : a.format);
}

export function subtractQuantities(a: Quantity, b: Quantity): Quantity {
  return addQuantities(a, negateQuantity(b));
}

export function negateQuantity(q: Quantity): Quantity {
  return make(-q.mantissa, q.scale, q.format);
}

/** The value scaled to 10^scale, rounded away from zero, as upstream's `ScaledValue`. */
export function scaledValue(q: Quantity, scale: number): bigint {
  if (q.scale >= scale) return q.mantissa * pow10(q.scale - scale);
  return divAwayFromZero(q.mantissa, pow10(scale - q.scale));
}

/** Thousandths, rounded up (`100m` CPU → 100). As a number; use `scaledValue(q, -3)` for bigints. */
export function toMillis(q: Quantity): number {
  return Number(scaledValue(q, -3));
}

/** Whole units, rounded up (`1Ki` → 1024, `1.5` → 2), as upstream's `Value`. */
export function toUnits(q: Quantity): number {
  return Number(scaledValue(q, 0));
}

/** Bytes of a memory or storage quantity: whole units, rounded up. */
export const toBytes = toUnits;

/** A float approximation, for scoring and display only. */
export function toFloat(q: Quantity): number {
  return Number(q.mantissa) * 10 ** q.scale;
}

/** Strips trailing decimal zeros into the exponent. */
function removeFactors(mantissa: bigint, exponent: number, factor: bigint): [bigint, number] {
  if (mantissa === 0n) return [0n, exponent];
  while (mantissa % factor === 0n) {
    mantissa /= factor;
    exponent++;
  }
  return [mantissa, exponent];
}

/** Upstream's canonical string form: `1500m`, `1k`, `1Gi`, `1536`, `1e3`. */
export function formatQuantity(q: Quantity): string {
  if (isZero(q)) return '0';
  let format = q.format;
  if (format === 'BinarySI') {
    const small = compareQuantities({ ...q, mantissa: abs(q.mantissa) }, newQuantity(1024)) < 0;
    const whole = q.scale >= 0 || q.mantissa % pow10(-q.scale) === 0n;
    if (small || !whole) format = 'DecimalSI';
  }
  if (format === 'BinarySI') {
    let value = scaledValue(q, 0);
    let power = 0;
    while (power < 6 && value % 1024n === 0n) {
      value /= 1024n;
      power++;
    }
    return `${value}${binarySuffixByPower.get(power) ?? ''}`;
  }
  let [mantissa, exponent] = removeFactors(q.mantissa, q.scale, 10n);
  const rem = ((exponent % 3) + 3) % 3;
  if (rem !== 0) {
    mantissa *= pow10(rem);
    exponent -= rem;
  }
  if (format === 'DecimalExponent') return exponent === 0 ? `${mantissa}` : `${mantissa}e${exponent}`;
  if (exponent > MAX_DECIMAL_SI_EXPONENT) {
    mantissa *= pow10(exponent - MAX_DECIMAL_SI_EXPONENT);
    exponent = MAX_DECIMAL_SI_EXPONENT;
  }
  return `${mantissa}${decimalSuffixByExponent.get(exponent) ?? ''}`;
}

/** Parse then print: what a real apiserver stores for a quantity field. */
export function canonicalQuantity(text: string | number): string {
  return formatQuantity(parseQuantity(text));
}
