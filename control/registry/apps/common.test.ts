import { FieldPath } from '../../../api/errors.js';
import { getPath, goLabelSelector, goStringMap, setPath, validateLabelSelector } from './common.js';

describe('validateLabelSelector', () => {
  it('reports values with In, values with Exists and invalid keys and values', () => {
    const errs = validateLabelSelector({
      matchLabels: { 'bad key': 'v' },
      matchExpressions: [{ key: 'a', operator: 'In' }, { key: 'b', operator: 'Exists', values: ['x'] }, { key: 'c', operator: 'In', values: ['-bad'] }],
    }, FieldPath.root('spec').child('selector'));
    const msgs = errs.map(e => e.message());
    expect(msgs.slice(0, 2)).toEqual([
      "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
      "spec.selector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
    ]);
    expect(msgs[2]).toMatch(/^spec.selector.matchExpressions\[2\].values\[0\]: Invalid value: "-bad": a valid label must be an empty string/);
    expect(msgs[3]).toMatch(/^spec.selector.matchLabels: Invalid value: "bad key": name part must consist of alphanumeric characters/);
    expect(msgs).toHaveLength(4);
  });
});

describe('Go value rendering', () => {
  it('renders maps and selectors as %#v does', () => {
    expect(goStringMap({ b: '2', a: '1' })).toBe('map[string]string{"a":"1", "b":"2"}');
    expect(goStringMap(undefined)).toBe('map[string]string(nil)');
    expect(goLabelSelector({ matchLabels: { a: '1' } })).toBe('v1.LabelSelector{MatchLabels:map[string]string{"a":"1"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}');
  });
});

describe('dotted paths', () => {
  it('reads and writes nested values, creating objects on the way', () => {
    const o: Record<string, unknown> = {};
    setPath(o, 'spec.replicas', 3);
    expect(o).toEqual({ spec: { replicas: 3 } });
    expect(getPath(o, 'spec.replicas')).toBe(3);
    expect(getPath(o, 'status.replicas')).toBeUndefined();
  });
});
