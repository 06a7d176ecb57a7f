import { checkGoDuration, cronScheduleError, timeZoneError } from './cron.js';

describe('cronScheduleError', () => {
  it.each([
    '* * * * *', '*/5 * * * *', '0 3 * * 1-5', '0 0 1 jan,JUL *', '15 10 * * sun', '0-59/15 0-23/2 1-31 1-12 0-6', '@hourly', '@daily',
    '@midnight', '@weekly', '@monthly', '@yearly', '@annually', '@every 1h30m', '@every 1.5s', 'CRON_TZ=UTC 0 * * * *', 'TZ=Europe/Paris @daily', '0 0 ? * *',
  ])('accepts %p', s => {
    expect(cronScheduleError(s)).toBeUndefined();
  });

  it.each([
    ['', 'empty spec string'],
    ['* * * *', 'expected exactly 5 fields, found 4: [* * * *]'],
    ['* * * * * *', 'expected exactly 5 fields, found 6: [* * * * * *]'],
    ['61 * * * *', 'end of range (61) above maximum (59): 61'],
    ['* 24 * * *', 'end of range (24) above maximum (23): 24'],
    ['* * 0 * *', 'beginning of range (0) below minimum (1): 0'],
    ['* * * 13 *', 'end of range (13) above maximum (12): 13'],
    ['* * * * 7', 'end of range (7) above maximum (6): 7'],
    ['5-1 * * * *', 'beginning of range (5) beyond end of range (1): 5-1'],
    ['*/0 * * * *', 'step of range should be a positive number: */0'],
    ['1-2-3 * * * *', 'too many hyphens: 1-2-3'],
    ['*/2/3 * * * *', 'too many slashes: */2/3'],
    ['x * * * *', 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'],
    ['* * * foo *', 'failed to parse int from foo: strconv.Atoi: parsing "foo": invalid syntax'],
    ['@often', 'unrecognized descriptor: @often'],
    ['@every 5', 'failed to parse duration @every 5: time: missing unit in duration "5"'],
    ['@every 5x', 'failed to parse duration @every 5x: time: unknown unit "x" in duration "5x"'],
    ['@every soon', 'failed to parse duration @every soon: time: invalid duration "soon"'],
    ['TZ=Mars/Olympus * * * * *', 'provided bad location Mars/Olympus: unknown time zone Mars/Olympus'],
  ])('rejects %p with robfig/cron\'s message', (s, msg) => {
    expect(cronScheduleError(s)).toBe(msg);
  });
});

describe('checkGoDuration', () => {
  it('accepts Go durations and rejects the rest', () => {
    for (const ok of ['0', '1h', '-1.5h', '300ms', '2h45m', '1µs', '.5s']) expect(() => checkGoDuration(ok)).not.toThrow();
    expect(() => checkGoDuration('')).toThrow('time: invalid duration ""');
    expect(() => checkGoDuration('.s')).toThrow('time: invalid duration ".s"');
  });
});

describe('timeZoneError', () => {
  it('loads IANA names case-sensitively and refuses unknown ones as Go does', () => {
    expect(timeZoneError('Europe/Paris')).toBeUndefined();
    expect(timeZoneError('America/Argentina/Buenos_Aires')).toBeUndefined();
    expect(timeZoneError('UTC')).toBeUndefined();
    expect(timeZoneError('Etc/GMT+5')).toBeUndefined();
    expect(timeZoneError('europe/paris')).toBe('unknown time zone europe/paris');
    expect(timeZoneError('Europe/Pariss')).toBe('unknown time zone Europe/Pariss');
  });
});
