// A minimal `Reflect` metadata polyfill. `@peculiar/x509` resolves its algorithm providers through
// `tsyringe`, which refuses to load unless `Reflect.getMetadata` exists; the `reflect-metadata`
// package is not a dependency, and the few calls tsyringe makes (get, getOwn, define) need only a
// WeakMap. Import this module before `@peculiar/x509`. If `reflect-metadata` is ever installed,
// this shim steps aside.
type Key = unknown;
type Target = object;

interface MetadataReflect {
  getMetadata?: (key: Key, target: Target, prop?: PropertyKey) => unknown;
  getOwnMetadata?: (key: Key, target: Target, prop?: PropertyKey) => unknown;
  hasMetadata?: (key: Key, target: Target, prop?: PropertyKey) => boolean;
  defineMetadata?: (key: Key, value: unknown, target: Target, prop?: PropertyKey) => void;
  metadata?: (key: Key, value: unknown) => (target: Target, prop?: PropertyKey) => void;
}

const R = Reflect as unknown as MetadataReflect;

if (typeof R.getMetadata !== 'function') {
  const store = new WeakMap<Target, Map<PropertyKey | undefined, Map<Key, unknown>>>();
  const own = (target: Target, prop: PropertyKey | undefined, create: boolean): Map<Key, unknown> | undefined => {
    let byProp = store.get(target);
    if (!byProp) {
      if (!create) return undefined;
      byProp = new Map();
      store.set(target, byProp);
    }
    let entries = byProp.get(prop);
    if (!entries && create) {
      entries = new Map();
      byProp.set(prop, entries);
    }
    return entries;
  };
  R.getOwnMetadata = (key, target, prop) => own(target, prop, false)?.get(key);
  R.defineMetadata = (key, value, target, prop) => { own(target, prop, true)!.set(key, value); };
  R.getMetadata = (key, target, prop) => {
    for (let t: Target | null = target; t !== null; t = Object.getPrototypeOf(t) as Target | null) {
      const entries = own(t, prop, false);
      if (entries?.has(key)) return entries.get(key);
    }
    return undefined;
  };
  R.hasMetadata = (key, target, prop) => R.getMetadata!(key, target, prop) !== undefined;
  R.metadata = (key, value) => (target, prop) => { R.defineMetadata!(key, value, target, prop); };
}

export {};
