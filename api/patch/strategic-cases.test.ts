// Behaviours of upstream's server-side strategic merge, restated as (current, patch, result)
// triples over a MergeItem-shaped schema: merging lists by `name`, merging int lists as sets,
// plain lists replaced, a `replace`-strategy map and `retainKeys` fields.
import { MERGE_ITEM, fixtureSchemas } from './fixtures.js';
import { applyStrategicMergePatch } from './strategic.js';

type Case = [description: string, current: unknown, patch: unknown, result: unknown];

const cases: Case[] = [
  ['an empty patch changes nothing', { name: 1 }, {}, { name: 1 }],
  ['a new field is added beside server-only ones', { name: 1, other: 'a' }, { value: 1 }, { name: 1, value: 1, other: 'a' }],
  ['null deletes a field and an absent null is ignored', { name: 1, other: 'a' }, { name: null, value: 1, missing: null }, { value: 1, other: 'a' }],
  ['null deletes a key of a nested map', { simpleMap: { key1: 1, key2: 1, other: 'a' } }, { simpleMap: { key2: null } }, { simpleMap: { key1: 1, other: 'a' } }],
  ['$patch: delete empties a nested map', { simpleMap: { key1: 1 } }, { simpleMap: { $patch: 'delete' } }, { simpleMap: {} }],
  ['$patch: replace at the top replaces everything', { name: 1, value: 1 }, { other: 'a', $patch: 'replace' }, { other: 'a' }],
  ['a list without strategy is replaced', { nonMergingIntList: [1, 4] }, { nonMergingIntList: [2, 3] }, { nonMergingIntList: [2, 3] }],
  ['int lists with merge strategy keep unique values', { mergingIntList: [1, 2] }, { mergingIntList: [2, 3] }, { mergingIntList: [1, 2, 3] }],
  ['patch order wins among patched items', { mergingIntList: [1, 2, 3] }, { mergingIntList: [3, 1] }, { mergingIntList: [2, 3, 1] }],
  ['a $patch: replace item leaves an empty list', { mergingList: [{ name: 1 }, { name: 2 }] }, { mergingList: [{ $patch: 'replace' }] }, { mergingList: [] }],
  ['deleting every item leaves an empty list', { mergingList: [{ name: 1, other: 'a' }, { name: 2 }] },
    { mergingList: [{ name: 1, $patch: 'delete' }, { name: 2, $patch: 'delete' }] }, { mergingList: [] }],
  ['delete removes every duplicate', { mergingList: [{ name: 1 }, { name: 1 }, { name: 2, value: 'a' }, { name: 3 }, { name: 3 }] },
    { mergingList: [{ name: 1, $patch: 'delete' }, { name: 3, $patch: 'delete' }] }, { mergingList: [{ name: 2, value: 'a' }] }],
  ['patched items come in patch order, untouched ones keep their place',
    { mergingList: [{ name: 1 }, { name: 2, value: 'b' }, { name: 3 }] },
    { mergingList: [{ name: 3, value: 'c' }, { name: 1, value: 'a' }] },
    { mergingList: [{ name: 2, value: 'b' }, { name: 3, value: 'c' }, { name: 1, value: 'a' }] }],
  ['$setElementOrder may name items the list does not have',
    { mergingList: [{ name: 1 }, { name: 3 }] },
    { '$setElementOrder/mergingList': [{ name: 3 }, { name: 2 }, { name: 1 }], mergingList: [{ name: 3, value: 3 }, { name: 1, value: 1 }] },
    { mergingList: [{ name: 3, value: 3 }, { name: 1, value: 1 }] }],
  ['$setElementOrder alone reorders an int list', { mergingIntList: [1, 3] }, { '$setElementOrder/mergingIntList': [3, 2, 1] }, { mergingIntList: [3, 1] }],
  ['$deleteFromPrimitiveList of a missing value changes nothing', { mergingIntList: [1, 2] }, { '$deleteFromPrimitiveList/mergingIntList': [3] }, { mergingIntList: [1, 2] }],
  ['$deleteFromPrimitiveList does not create the list', { foo: ['bar'] }, { '$deleteFromPrimitiveList/mergingIntList': [3] }, { foo: ['bar'] }],
  ['$deleteFromPrimitiveList works on a list without merge strategy too', { nonMergingIntList: [1, 2, 3] }, { '$deleteFromPrimitiveList/nonMergingIntList': [2] }, { nonMergingIntList: [1, 3] }],
  ['deleted primitives and server-only ones', { mergingIntList: [1, 2, 3, 3, 4] },
    { '$setElementOrder/mergingIntList': [1, 2], '$deleteFromPrimitiveList/mergingIntList': [3] }, { mergingIntList: [1, 2, 4] }],
  ['a delete of an item missing from the list is harmless, the new item goes first',
    { name: 'hi', mergingList: [{ name: 'hello2' }] },
    { '$setElementOrder/mergingList': [{ name: 'hello' }, { name: 'doesntexist' }], mergingList: [{ name: 'hello' }, { $patch: 'delete', name: 'doesntexist' }] },
    { name: 'hi', mergingList: [{ name: 'hello' }, { name: 'hello2' }] }],
  ['new items are placed by $setElementOrder among server items',
    { mergingList: [{ name: 1, other: 'a' }, { name: 2, value: 2, other: 'b' }] },
    { '$setElementOrder/mergingList': [{ name: 4 }, { name: 1 }, { name: 2 }, { name: 3 }], mergingList: [{ name: 4, value: 4 }, { name: 3, value: 3 }] },
    { mergingList: [{ name: 4, value: 4 }, { name: 1, other: 'a' }, { name: 2, value: 2, other: 'b' }, { name: 3, value: 3 }] }],
  ['a server-only item stays after the items ordered before it',
    { mergingList: [{ name: 1, other: 'a' }, { name: 3, value: 2, other: 'b' }] },
    { '$setElementOrder/mergingList': [{ name: 1 }, { name: 2 }], mergingList: [{ name: 1, value: 1 }, { name: 2, value: 2 }] },
    { mergingList: [{ name: 1, value: 1, other: 'a' }, { name: 2, value: 2 }, { name: 3, value: 2, other: 'b' }] }],
  ['adding and deleting in one patch keeps the server-only item before the new one',
    { mergingList: [{ name: 1 }, { name: 2, other: 'b' }, { name: 4, other: 'c' }] },
    { '$setElementOrder/mergingList': [{ name: 2 }, { name: 3 }], mergingList: [{ name: 3 }, { name: 1, $patch: 'delete' }] },
    { mergingList: [{ name: 2, other: 'b' }, { name: 4, other: 'c' }, { name: 3 }] }],
  ['adding two and deleting one puts the server-only item first',
    { mergingList: [{ name: 1, other: 'a' }, { name: 4, other: 'c' }] },
    { '$setElementOrder/mergingList': [{ name: 2 }, { name: 3 }], mergingList: [{ name: 2 }, { name: 3 }, { name: 1, $patch: 'delete' }] },
    { mergingList: [{ name: 4, other: 'c' }, { name: 2 }, { name: 3 }] }],
  ['deleting a missing item while adding one',
    { mergingList: [{ name: 3, other: 'a' }] },
    { '$setElementOrder/mergingList': [{ name: 2 }], mergingList: [{ name: 2 }, { name: 1, $patch: 'delete' }] },
    { mergingList: [{ name: 2 }, { name: 3, other: 'a' }] }],
  ['null deletes a field of a list item',
    { mergingList: [{ name: 1, value: 1, other: 'a' }, { name: 2, value: 2, other: 'b' }] },
    { '$setElementOrder/mergingList': [{ name: 1 }, { name: 2 }], mergingList: [{ name: 1, value: null }] },
    { mergingList: [{ name: 1, other: 'a' }, { name: 2, value: 2, other: 'b' }] }],
  ['a plain list inside a merged item is replaced',
    { mergingList: [{ name: 1, other: 'a', nonMergingList: [{ name: 1 }, { name: 2, value: 2 }] }, { name: 2, other: 'b' }] },
    { '$setElementOrder/mergingList': [{ name: 1 }, { name: 2 }], mergingList: [{ name: 1, nonMergingList: [{ name: 1, value: 1 }] }] },
    { mergingList: [{ name: 1, other: 'a', nonMergingList: [{ name: 1, value: 1 }] }, { name: 2, other: 'b' }] }],
  ['nested merging lists with their own order',
    { mergingList: [{ name: 1, other: 'a', mergingList: [{ name: 2, value: 2, other: 'd' }] }, { name: 2, other: 'b' }] },
    { '$setElementOrder/mergingList': [{ name: 1 }, { name: 2 }], mergingList: [{ '$setElementOrder/mergingList': [{ name: 2 }, { name: 1 }], name: 1, mergingList: [{ name: 1, value: 1 }] }] },
    { mergingList: [{ name: 1, other: 'a', mergingList: [{ name: 2, value: 2, other: 'd' }, { name: 1, value: 1 }] }, { name: 2, other: 'b' }] }],
  ['a new primitive goes where $setElementOrder says, server-only values stay',
    { mergingIntList: [1, 4, 2] }, { '$setElementOrder/mergingIntList': [3, 1, 2], mergingIntList: [3] }, { mergingIntList: [3, 1, 4, 2] }],
  ['a server-only primitive follows the ordered ones before it',
    { mergingIntList: [1, 2, 4] }, { '$setElementOrder/mergingIntList': [1, 2, 3], mergingIntList: [3] }, { mergingIntList: [1, 2, 3, 4] }],
  ['$setElementOrder with a deletion reorders the rest',
    { mergingList: [{ name: 1, other: 'a' }, { name: 2, value: 2, other: 'b' }, { name: 3, value: 3 }] },
    { '$setElementOrder/mergingList': [{ name: 2 }, { name: 1 }], mergingList: [{ name: 3, $patch: 'delete' }] },
    { mergingList: [{ name: 2, value: 2, other: 'b' }, { name: 1, other: 'a' }] }],
  ['add, delete and reorder in one patch',
    { mergingList: [{ name: 1, other: 'a' }, { name: 2, value: 2, other: 'b' }, { name: 3, value: 3 }] },
    { '$setElementOrder/mergingList': [{ name: 4 }, { name: 2 }, { name: 1 }], mergingList: [{ name: 4, value: 4 }, { name: 3, $patch: 'delete' }] },
    { mergingList: [{ name: 4, value: 4 }, { name: 2, value: 2, other: 'b' }, { name: 1, other: 'a' }] }],
  ['a replace-strategy map is replaced whole', { replacingItem: { a: 1, b: 2 } }, { replacingItem: { c: 3 } }, { replacingItem: { c: 3 } }],
  ['a retainKeys map still merges without the directive', { retainKeysMap: { name: 'foo', value: 'a' } }, { retainKeysMap: { value: 'b' } }, { retainKeysMap: { name: 'foo', value: 'b' } }],
  ['$retainKeys clears unlisted fields', { retainKeysMap: { name: 'foo', value: 'a', other: 'x' } },
    { retainKeysMap: { $retainKeys: ['name', 'other'], other: 'y' } }, { retainKeysMap: { name: 'foo', other: 'y' } }],
  ['$retainKeys inside a merged list item', { retainKeysMergingList: [{ name: 'bar' }, { name: 'foo', value: 'a', other: 'x' }] },
    { retainKeysMergingList: [{ $retainKeys: ['name', 'value'], name: 'foo', value: 'b' }] },
    { retainKeysMergingList: [{ name: 'bar' }, { name: 'foo', value: 'b' }] }],
];

describe('applyStrategicMergePatch: upstream behaviours', () => {
  it.each(cases)('%s', (_d, current, patch, result) => {
    expect(applyStrategicMergePatch(current, patch, fixtureSchemas, MERGE_ITEM)).toEqual(result);
  });

  it('rejects a patch list out of step with $setElementOrder', () => {
    expect(() => applyStrategicMergePatch({ mergingList: [{ name: 1 }, { name: 3 }, { name: 2 }] }, {
      '$setElementOrder/mergingList': [{ name: 1 }, { name: 2 }, { name: 3 }],
      mergingList: [{ name: 3, value: 3 }, { name: 1, value: 1 }],
    }, fixtureSchemas, MERGE_ITEM)).toThrow("doesn't match $setElementOrder list");
    expect(() => applyStrategicMergePatch({ mergingIntList: [1, 3, 2] }, {
      '$setElementOrder/mergingIntList': [1, 2, 3], mergingIntList: [3, 1],
    }, fixtureSchemas, MERGE_ITEM)).toThrow("doesn't match");
  });

  it('rejects lists of lists with 422', () => {
    expect(() => applyStrategicMergePatch({ mergingIntList: [[1]] }, { mergingIntList: [[2]] }, fixtureSchemas, MERGE_ITEM))
      .toThrow(expect.objectContaining({ code: 422 }) as unknown as Error);
  });
});
