// Key-range helpers shared by the backends. Both order keys by their UTF-8 bytes (SQLite's BINARY
// collation, etcd's byte keys), which is also code-point order, so a prefix is the half-open range
// [prefix, prefixEnd(prefix)).

/**
 * The smallest string greater than every string that starts with `prefix`, or undefined when there
 * is none (empty prefix, or a prefix made only of U+10FFFF): the range is then unbounded above.
 */
export function prefixEnd(prefix: string): string | undefined {
  const points = Array.from(prefix);
  while (points.length > 0) {
    const last = points.pop()!.codePointAt(0)!;
    let next = last + 1;
    if (next >= 0xd800 && next <= 0xdfff) next = 0xe000; // skip the surrogate block: not code points
    if (next <= 0x10ffff) return points.join('') + String.fromCodePoint(next);
  }
  return undefined;
}

/** The same bound on bytes, as etcd wants it: increment the last byte below 0xff, drop 0xff tails. */
export function prefixEndBytes(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // etcd: range_end "\0" means "every key >= key"
}
