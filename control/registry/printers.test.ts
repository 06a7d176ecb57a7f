import { formatLabels, humanDuration, listWithMore, nameColumn, shortHumanDuration, translateTimestampSince } from './printers.js';

const s = 1000, m = 60 * s, h = 60 * m, d = 24 * h;

describe('printers', () => {
  it('humanDuration follows upstream at every step', () => {
    expect(humanDuration(-3 * s)).toBe('<invalid>');
    expect(humanDuration(-1 * s)).toBe('0s');
    expect(humanDuration(5 * s)).toBe('5s');
    expect(humanDuration(119 * s)).toBe('119s');
    expect(humanDuration(2 * m)).toBe('2m');
    expect(humanDuration(3 * m + 2 * s)).toBe('3m2s');
    expect(humanDuration(15 * m + 30 * s)).toBe('15m');
    expect(humanDuration(179 * m)).toBe('179m');
    expect(humanDuration(3 * h)).toBe('3h');
    expect(humanDuration(5 * h + 3 * m)).toBe('5h3m');
    expect(humanDuration(10 * h + 5 * m)).toBe('10h');
    expect(humanDuration(47 * h)).toBe('47h');
    expect(humanDuration(2 * d + 3 * h)).toBe('2d3h');
    expect(humanDuration(3 * d)).toBe('3d');
    expect(humanDuration(30 * d)).toBe('30d');
    expect(humanDuration(365 * 2 * d + 10 * d)).toBe('2y10d');
    expect(humanDuration(365 * 3 * d)).toBe('3y');
    expect(humanDuration(365 * 9 * d + 40 * d)).toBe('9y');
  });

  it('shortHumanDuration keeps one unit', () => {
    expect(shortHumanDuration(59 * s)).toBe('59s');
    expect(shortHumanDuration(90 * s)).toBe('1m');
    expect(shortHumanDuration(25 * h)).toBe('1d');
  });

  it('translateTimestampSince prints an age or <unknown>', () => {
    const now = new Date('2024-01-01T00:10:00Z');
    expect(translateTimestampSince('2024-01-01T00:07:58Z', now)).toBe('2m2s');
    expect(translateTimestampSince(undefined, now)).toBe('<unknown>');
  });

  it('formats labels and lists', () => {
    expect(formatLabels({ b: '2', a: '1' })).toBe('a=1,b=2');
    expect(formatLabels({})).toBe('<none>');
    expect(listWithMore(['a', 'b', 'c', 'd', 'e'])).toBe('a,b,c + 2 more...');
    expect(listWithMore([])).toBe('<none>');
  });

  it('the NAME column is a string with format name', () => {
    expect(nameColumn()).toMatchObject({ name: 'Name', type: 'string', format: 'name', priority: 0 });
  });
});
