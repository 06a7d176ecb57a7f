// A pure validator for CronJob schedules, matching what upstream accepts and says: upstream parses
// with robfig/cron v3's ParseStandard (five fields — minute, hour, day of month, month, day of
// week — or a descriptor such as `@hourly` or `@every 1h30m`, optionally after `TZ=`/`CRON_TZ=`),
// and reports the parser's error text verbatim. We only validate; the CronJob controller computes
// next run times itself. No npm cron parser reproduces robfig's messages, hence this small module.
//
// Time zones are checked against the runtime's IANA database (Intl, pure and always present in
// Node builds with full ICU), with Go's LoadLocation case-sensitivity approximated by requiring
// every name component to start with an upper-case letter.

interface Bounds { min: number; max: number; names?: Record<string, number> }

const MINUTES: Bounds = { min: 0, max: 59 };
const HOURS: Bounds = { min: 0, max: 23 };
const DOM: Bounds = { min: 1, max: 31 };
const MONTHS: Bounds = { min: 1, max: 12, names: { jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 } };
const DOW: Bounds = { min: 0, max: 6, names: { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 } };

const DESCRIPTORS = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);

class CronError extends Error {}

/** Go's strconv.Atoi, with its error text. */
function atoi(s: string): number {
  const m = /^[+-]?[0-9]+$/.exec(s);
  if (!m) throw new CronError(`strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`);
  const big = BigInt(s);
  if (big > 9223372036854775807n || big < -9223372036854775808n) throw new CronError(`strconv.Atoi: parsing ${JSON.stringify(s)}: value out of range`);
  return Number(big);
}

function parseInt_(expr: string): number {
  let n: number;
  try {
    n = atoi(expr);
  } catch (e) {
    throw new CronError(`failed to parse int from ${expr}: ${(e as Error).message}`);
  }
  if (n < 0) throw new CronError(`negative number (${n}) not allowed: ${expr}`);
  return n;
}

function parseIntOrName(expr: string, b: Bounds): number {
  const named = b.names?.[expr.toLowerCase()];
  return named !== undefined ? named : parseInt_(expr);
}

function checkRange(expr: string, b: Bounds): void {
  const rangeAndStep = expr.split('/');
  const lowAndHigh = (rangeAndStep[0] ?? '').split('-');
  let start: number, end: number, step: number;
  if (lowAndHigh[0] === '*' || lowAndHigh[0] === '?') {
    start = b.min;
    end = b.max;
  } else {
    start = parseIntOrName(lowAndHigh[0] ?? '', b);
    if (lowAndHigh.length === 1) end = start;
    else if (lowAndHigh.length === 2) end = parseIntOrName(lowAndHigh[1] ?? '', b);
    else throw new CronError(`too many hyphens: ${expr}`);
  }
  if (rangeAndStep.length === 1) {
    step = 1;
  } else if (rangeAndStep.length === 2) {
    step = parseInt_(rangeAndStep[1] ?? '');
    // "N/step" means "N-max/step".
    if (lowAndHigh.length === 1) end = b.max;
  } else {
    throw new CronError(`too many slashes: ${expr}`);
  }
  if (start < b.min) throw new CronError(`beginning of range (${start}) below minimum (${b.min}): ${expr}`);
  if (end > b.max) throw new CronError(`end of range (${end}) above maximum (${b.max}): ${expr}`);
  if (start > end) throw new CronError(`beginning of range (${start}) beyond end of range (${end}): ${expr}`);
  if (step === 0) throw new CronError(`step of range should be a positive number: ${expr}`);
}

function checkField(text: string, b: Bounds): void {
  // Go's strings.FieldsFunc on ',' drops empty pieces.
  for (const expr of text.split(',').filter(s => s !== '')) checkRange(expr, b);
}

const DURATION_UNITS = new Set(['ns', 'us', 'µs', 'μs', 'ms', 's', 'm', 'h']);

/** Go's time.ParseDuration, validating only; throws with Go's message. */
export function checkGoDuration(orig: string): void {
  const q = (s: string) => `"${s}"`;
  let s = orig;
  if (s.startsWith('-') || s.startsWith('+')) s = s.slice(1);
  if (s === '0') return;
  if (s === '') throw new CronError(`time: invalid duration ${q(orig)}`);
  while (s !== '') {
    const num = /^([0-9]*)(\.([0-9]*))?/.exec(s);
    const whole = num?.[1] ?? '', frac = num?.[3];
    if (whole === '' && (frac === undefined || frac === '')) throw new CronError(`time: invalid duration ${q(orig)}`);
    s = s.slice(num?.[0].length ?? 0);
    const unit = /^[^0-9.]*/.exec(s)?.[0] ?? '';
    if (unit === '') throw new CronError(`time: missing unit in duration ${q(orig)}`);
    if (!DURATION_UNITS.has(unit)) throw new CronError(`time: unknown unit ${q(unit)} in duration ${q(orig)}`);
    s = s.slice(unit.length);
  }
}

function checkDescriptor(spec: string): void {
  if (DESCRIPTORS.has(spec)) return;
  const every = '@every ';
  if (spec.startsWith(every)) {
    try {
      checkGoDuration(spec.slice(every.length));
    } catch (e) {
      throw new CronError(`failed to parse duration ${spec}: ${(e as Error).message}`);
    }
    return;
  }
  throw new CronError(`unrecognized descriptor: ${spec}`);
}

/**
 * Validates a schedule as robfig/cron v3's ParseStandard does; returns its error message, or
 * undefined when the schedule is valid.
 */
export function cronScheduleError(schedule: string): string | undefined {
  try {
    let spec = schedule;
    if (spec.length === 0) throw new CronError('empty spec string');
    if (spec.startsWith('TZ=') || spec.startsWith('CRON_TZ=')) {
      const space = spec.indexOf(' ');
      const eq = spec.indexOf('=');
      const name = space < 0 ? spec.slice(eq + 1) : spec.slice(eq + 1, space);
      const tzErr = timeZoneError(name);
      if (tzErr) throw new CronError(`provided bad location ${name}: ${tzErr}`);
      spec = space < 0 ? '' : spec.slice(space).trim();
    }
    if (spec.startsWith('@')) {
      checkDescriptor(spec);
      return undefined;
    }
    const fields = spec.split(/\s+/).filter(f => f !== '');
    if (fields.length !== 5) throw new CronError(`expected exactly 5 fields, found ${fields.length}: [${fields.join(' ')}]`);
    const bounds = [MINUTES, HOURS, DOM, MONTHS, DOW];
    fields.forEach((f, i) => checkField(f, bounds[i] as Bounds));
    return undefined;
  } catch (e) {
    if (e instanceof CronError) return e.message;
    throw e;
  }
}

/**
 * Go's time.LoadLocation error for `name` (`unknown time zone X`), or undefined when it loads.
 * '' and 'UTC' load as UTC; 'Local' loads too (callers reject it separately, as upstream does).
 */
export function timeZoneError(name: string): string | undefined {
  if (name === '' || name === 'UTC' || name === 'Local') return undefined;
  const components = name.split('/');
  const casedLikeTzdata = components.every(c => /^[A-Z]/.test(c));
  if (casedLikeTzdata && intlAccepts(name)) return undefined;
  return `unknown time zone ${name}`;
}

function intlAccepts(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}
