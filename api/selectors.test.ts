import { StatusError } from './errors.js';
import {
  checkSelectableFields, escapeFieldValue, fieldSelectorString, fieldsMatch, formatLabelSelector,
  fromMetaLabelSelector, isEverything, metaLabelSelectorString, labelSelectorString, labelsMatch, parseFieldSelector,
  parseFieldSelectorParam, parseLabelSelector, parseLabelSelectorParam, requiredFieldValue,
  labelsString, SelectorError, selectorFromSet, tryFromMetaLabelSelector,
} from './selectors.js';

const parse = (s: string) => parseLabelSelector(s);
const errorOf = (fn: () => unknown): string => {
  try { fn(); } catch (err) { return (err as Error).message; }
  throw new Error('expected an error');
};

describe('parseLabelSelector', () => {
  it('reads every operator and renders them canonically, sorted by key', () => {
    const sel = parse('a=b,c!=d,e in (y,x),f notin (z),g,!h,i==j');
    expect(labelSelectorString(sel)).toBe('a=b,c!=d,e in (x,y),f notin (z),g,!h,i==j');
  });

  it('treats the empty string and blanks as everything', () => {
    expect(isEverything(parse(''))).toBe(true);
    expect(isEverything(parse('   '))).toBe(true);
    expect(labelsMatch(parse(''), undefined)).toBe(true);
  });

  it('accepts whitespace around tokens and prefixed keys', () => {
    const sel = parse(' app.kubernetes.io/name = web , tier  in ( a , b ) ');
    expect(labelSelectorString(sel)).toBe('app.kubernetes.io/name=web,tier in (a,b)');
  });

  it('allows an empty value after = and empty members in a set', () => {
    expect(labelSelectorString(parse('a='))).toBe('a=');
    expect(labelSelectorString(parse('a in (,x)'))).toBe('a in (,x)');
    expect(labelSelectorString(parse('a in (x,,y)'))).toBe('a in (,x,y)');
    expect(labelSelectorString(parse('a in (x,)'))).toBe('a in (,x)');
    expect(labelSelectorString(parse('a in ()'))).toBe('a in ()');
    expect(labelsMatch(parse('a in ()'), { a: '' })).toBe(true);
    expect(labelSelectorString(parse('a in (in,notin),b=in'))).toBe('a in (in,notin),b=in');
    expect(labelsMatch(parse('a='), { a: '' })).toBe(true);
  });

  it('reads gt and lt', () => {
    const sel = parse('n>5,m<3');
    expect(labelSelectorString(sel)).toBe('m<3,n>5');
    expect(labelsMatch(sel, { n: '6', m: '2' })).toBe(true);
    expect(labelsMatch(sel, { n: '5', m: '2' })).toBe(false);
    expect(labelsMatch(sel, { n: 'x', m: '2' })).toBe(false);
  });

  it.each([
    ['a in b', "unable to parse requirement: found 'b', expected: '('"],
    ['a b', "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"],
    ['a=b,', "found '', expected: identifier after ','"],
    [',a', "found ',', expected: !, identifier, or 'end of string'"],
    ['a=b c', "found 'c', expected: ',' or 'end of string'"],
    ['a in (x y)', "unable to parse requirement: found 'y', expected: ',' or ')'"],
    ['a in (=)', "unable to parse requirement: found '=', expected: ',', ')' or identifier"],
    ['a in (x,=)', "unable to parse requirement: found '=', expected: ',', or identifier"],
    ['a in (x', "unable to parse requirement: found '', expected: ',' or ')'"],
    ['!', "unable to parse requirement: found '', expected: identifier"],
    ['n>x', "unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer"],
  ])('rejects %j with %j', (input, message) => {
    expect(errorOf(() => parse(input))).toBe(message);
  });

  it('validates keys and values like upstream', () => {
    expect(errorOf(() => parse('a/b/c=d'))).toMatch(/^unable to parse requirement: <nil>: Invalid value: "a\/b\/c": a qualified name must consist/);
    expect(errorOf(() => parse('a=-bad'))).toMatch(/^unable to parse requirement: values\[0\]\[a\]: Invalid value: "-bad": a valid label must be/);
  });

  it('turns bad query parameters into a 400 BadRequest', () => {
    let err: unknown;
    try { parseLabelSelectorParam('a in b'); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(StatusError);
    expect((err as StatusError).code).toBe(400);
    expect((err as StatusError).reason).toBe('BadRequest');
    expect(isEverything(parseLabelSelectorParam(null))).toBe(true);
  });
});

describe('labelsMatch', () => {
  const labels = { app: 'web', tier: 'front', env: 'prod' };
  it.each([
    ['app=web', true], ['app==web', true], ['app=db', false],
    ['app!=db', true], ['app!=web', false], ['missing!=x', true],
    ['tier in (front,back)', true], ['tier in (back)', false], ['missing in (x)', false],
    ['tier notin (back)', true], ['tier notin (front)', false], ['missing notin (x)', true],
    ['env', true], ['missing', false], ['!missing', true], ['!env', false],
    ['app=web,env=prod', true], ['app=web,env=dev', false],
  ])('%s → %s', (sel, want) => {
    expect(labelsMatch(parse(sel), labels)).toBe(want);
  });

  it('matches objects without labels only by negative requirements', () => {
    expect(labelsMatch(parse('!a,b!=c,d notin (e)'), undefined)).toBe(true);
    expect(labelsMatch(parse('a'), undefined)).toBe(false);
  });
});

describe('fromMetaLabelSelector', () => {
  it('converts matchLabels and matchExpressions to the same form as the string syntax', () => {
    const sel = fromMetaLabelSelector({
      matchLabels: { app: 'web' },
      matchExpressions: [
        { key: 'tier', operator: 'In', values: ['front', 'back'] },
        { key: 'env', operator: 'NotIn', values: ['dev'] },
        { key: 'zone', operator: 'Exists' },
        { key: 'legacy', operator: 'DoesNotExist' },
      ],
    });
    expect(labelSelectorString(sel)).toBe('app=web,env notin (dev),!legacy,tier in (back,front),zone');
    expect(labelsMatch(sel, { app: 'web', tier: 'front', zone: 'a' })).toBe(true);
    expect(labelsMatch(sel, { app: 'web', tier: 'front', zone: 'a', legacy: 'y' })).toBe(false);
  });

  it('selects nothing for a missing selector and everything for an empty one', () => {
    expect(labelsMatch(fromMetaLabelSelector(undefined), { a: 'b' })).toBe(false);
    expect(labelsMatch(fromMetaLabelSelector({}), { a: 'b' })).toBe(true);
  });

  it('rejects unknown operators and misplaced values', () => {
    expect(() => fromMetaLabelSelector({ matchExpressions: [{ key: 'a', operator: 'Gt', values: ['1'] }] }))
      .toThrow(new SelectorError('"Gt" is not a valid label selector operator'));
    expect(() => fromMetaLabelSelector({ matchExpressions: [{ key: 'a', operator: 'In', values: [] }] }))
      .toThrow("values set can't be empty");
    expect(() => fromMetaLabelSelector({ matchLabels: { 'a/b/c': 'x' } })).toThrow(/^key: Invalid value: "a\/b\/c"/);
    expect(() => fromMetaLabelSelector({ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] }))
      .toThrow('values set must be empty for exists and does not exist');
  });

  it('round-trips through the string form', () => {
    const text = labelSelectorString(fromMetaLabelSelector({ matchLabels: { b: '2', a: '1' }, matchExpressions: [{ key: 'c', operator: 'In', values: ['x'] }] }));
    expect(text).toBe('a=1,b=2,c in (x)');
    expect(labelSelectorString(parse(text))).toBe(text);
  });

  it('renders Scale status.selector', () => {
    expect(metaLabelSelectorString({ matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'Exists' }] })).toBe('app=web,tier');
    expect(metaLabelSelectorString({})).toBe('');
  });

  it('formats for kubectl columns', () => {
    expect(formatLabelSelector({})).toBe('<none>');
    expect(formatLabelSelector({ matchLabels: { app: 'web' } })).toBe('app=web');
  });
});

describe('selectorFromSet', () => {
  it('builds an equality selector from a map', () => {
    const sel = selectorFromSet({ tier: 'db', app: 'web' });
    expect(labelSelectorString(sel)).toBe('app=web,tier=db');
    expect(labelsMatch(sel, { app: 'web', tier: 'db', x: 'y' })).toBe(true);
    expect(isEverything(selectorFromSet(undefined))).toBe(true);
  });
});

describe('field selectors', () => {
  it('parses =, == and != and renders canonically', () => {
    const sel = parseFieldSelector('status.phase!=Running,metadata.name==x');
    expect(sel.requirements).toEqual([
      { field: 'metadata.name', operator: '=', value: 'x' },
      { field: 'status.phase', operator: '!=', value: 'Running' },
    ]);
    expect(fieldSelectorString(sel)).toBe('metadata.name=x,status.phase!=Running');
  });

  it('matches against attributes, missing ones being empty', () => {
    const sel = parseFieldSelector('metadata.name=x,status.phase!=Running');
    expect(fieldsMatch(sel, { 'metadata.name': 'x', 'status.phase': 'Pending' })).toBe(true);
    expect(fieldsMatch(sel, { 'metadata.name': 'x', 'status.phase': 'Running' })).toBe(false);
    expect(fieldsMatch(sel, { 'metadata.name': 'x' })).toBe(true);
    expect(fieldsMatch(parseFieldSelector('spec.nodeName='), {})).toBe(true);
    expect(fieldsMatch(parseFieldSelector(''), {})).toBe(true);
  });

  it('honours escapes of backslash, comma and equals', () => {
    const sel = parseFieldSelector('metadata.name=a\\,b\\=c\\\\d');
    expect(sel.requirements[0]!.value).toBe('a,b=c\\d');
    expect(fieldSelectorString(sel)).toBe('metadata.name=a\\,b\\=c\\\\d');
    expect(escapeFieldValue('x=y,z')).toBe('x\\=y\\,z');
  });

  it.each([
    ['metadata.name', "invalid selector: 'metadata.name'; can't understand 'metadata.name'"],
    ['a=b=c', 'invalid field selector: unescaped character in value: ='],
    ['a=b\\x', 'invalid field selector: invalid escape sequence: \\x'],
    ['a=b\\', 'invalid field selector: invalid escape sequence: \\'],
  ])('rejects %j', (input, message) => {
    expect(errorOf(() => parseFieldSelector(input))).toBe(message);
  });

  it('finds the exact value a selector requires', () => {
    const sel = parseFieldSelector('metadata.name=web,spec.nodeName!=n1');
    expect(requiredFieldValue(sel, 'metadata.name')).toBe('web');
    expect(requiredFieldValue(sel, 'spec.nodeName')).toBeUndefined();
  });

  it('rejects fields the resource does not support with a 400', () => {
    const sel = parseFieldSelector('spec.nodeName=n1,metadata.namespace=default');
    expect(() => checkSelectableFields(sel, ['spec.nodeName'])).not.toThrow();
    let err: unknown;
    try { parseFieldSelectorParam('spec.bogus=1', ['spec.nodeName']); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(StatusError);
    expect((err as StatusError).code).toBe(400);
    expect((err as StatusError).message).toBe('field label not supported: spec.bogus');
    expect(errorOf(() => parseFieldSelectorParam('a=b=c', []))).toBe('invalid field selector: unescaped character in value: =');
  });
});

describe('metav1.LabelSelector rendering and matching', () => {
  it('renders requirements sorted by key, as labels.Selector.String()', () => {
    expect(metaLabelSelectorString({
      matchLabels: { tier: 'web', app: 'x' },
      matchExpressions: [{ key: 'env', operator: 'In', values: ['prod', 'dev'] }, { key: 'beta', operator: 'DoesNotExist' }, { key: 'zone', operator: 'Exists' }],
    })).toBe('app=x,!beta,env in (dev,prod),tier=web,zone');
  });

  it('renders nil and empty selectors as empty, and formatLabelSelector as <none>', () => {
    expect(metaLabelSelectorString(undefined)).toBe('');
    expect(metaLabelSelectorString({})).toBe('');
    expect(formatLabelSelector(undefined)).toBe('<none>');
    expect(formatLabelSelector({ matchExpressions: [{ key: 'a', operator: 'Bad' }] })).toBe('<error>');
    expect(labelsString({ b: '2', a: '1' })).toBe('a=1,b=2');
  });

  it('matches like upstream: nil selects nothing, empty selects everything', () => {
    expect(labelsMatch(fromMetaLabelSelector(undefined), { a: '1' })).toBe(false);
    expect(labelsMatch(fromMetaLabelSelector({}), { a: '1' })).toBe(true);
    expect(labelsMatch(fromMetaLabelSelector({ matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['1'] }] }), {})).toBe(true);
    expect(labelsMatch(fromMetaLabelSelector({ matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['1'] }] }), { a: '1' })).toBe(false);
    expect(labelsMatch(fromMetaLabelSelector({ matchLabels: { a: '1' }, matchExpressions: [{ key: 'b', operator: 'Exists' }] }), { a: '1', b: '' })).toBe(true);
  });

  it('tryFromMetaLabelSelector returns undefined where the conversion fails', () => {
    expect(tryFromMetaLabelSelector({ matchExpressions: [{ key: 'a', operator: 'Bad' }] })).toBeUndefined();
    expect(tryFromMetaLabelSelector({ matchLabels: { 'bad key': 'v' } })).toBeUndefined();
    expect(tryFromMetaLabelSelector(undefined)).toEqual(fromMetaLabelSelector(undefined));
  });
});
