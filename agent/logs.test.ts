import { parseCriLine, parseLogOptions, renderLogs, rfc3339Nano } from './logs.js';

const lines = [
  '2026-01-02T15:04:05.000000000Z stdout F one',
  '2026-01-02T15:04:06.100000000Z stderr F two',
  '2026-01-02T15:04:07.000000000Z stdout P thr',
  '2026-01-02T15:04:07.000000001Z stdout F ee',
  '2026-01-02T15:04:08.000000000Z stdout F ',
];

describe('container logs', () => {
  it('parseCriLine splits time, stream, tag and text, and passes raw lines through', () => {
    expect(parseCriLine(lines[1]!)).toEqual({ time: '2026-01-02T15:04:06.100000000Z', stream: 'stderr', partial: false, text: 'two' });
    expect(parseCriLine('plain text')).toEqual({ time: '', stream: 'stdout', partial: false, text: 'plain text' });
  });

  it('renderLogs joins partial records and keeps empty lines', () => {
    expect(renderLogs(lines, { timestamps: false })).toBe('one\ntwo\nthree\n\n');
  });

  it('renderLogs counts whole lines for tailLines', () => {
    expect(renderLogs(lines, { timestamps: false, tailLines: 2 })).toBe('three\n\n');
    expect(renderLogs(lines, { timestamps: false, tailLines: 0 })).toBe('');
  });

  it('renderLogs prefixes RFC3339Nano timestamps with trailing zeros trimmed', () => {
    expect(renderLogs(lines.slice(0, 2), { timestamps: true })).toBe('2026-01-02T15:04:05Z one\n2026-01-02T15:04:06.1Z two\n');
    expect(rfc3339Nano('2026-01-02T15:04:07.000000001Z')).toBe('2026-01-02T15:04:07.000000001Z');
  });

  it('renderLogs drops lines before sinceMs', () => {
    expect(renderLogs(lines, { timestamps: false, sinceMs: Date.parse('2026-01-02T15:04:06Z') })).toBe('two\nthree\n\n');
  });

  it('parseLogOptions reads the query and rejects negative numbers', () => {
    expect(parseLogOptions(new URLSearchParams('follow=true&tailLines=3&sinceSeconds=10&timestamps=true&previous=true&limitBytes=5'), 100_000))
      .toEqual({ follow: true, timestamps: true, previous: true, tailLines: 3, sinceMs: 90_000, limitBytes: 5 });
    expect(() => parseLogOptions(new URLSearchParams('tailLines=-1'), 0)).toThrow('invalid tailLines "-1"');
  });
});
