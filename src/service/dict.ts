/**
 * Objects used as maps of user-chosen keys (shadow state, attributes, status details). A plain
 * `{}` has a prototype, so `o["__proto__"] = v` replaces it and `o["constructor"]` answers for a
 * key nobody set. These objects have no prototype: every key, `__proto__` included, is an own
 * key that JSON.stringify writes and JSON.parse reads back the same.
 */
export type Dict<T> = Record<string, T>;

export function emptyDict<T>(): Dict<T> {
  return Object.create(null) as Dict<T>;
}

/** A prototype-free copy of `source`'s own enumerable keys. */
export function dictOf<T>(source: Readonly<Record<string, T>> | undefined): Dict<T> {
  const out = emptyDict<T>();
  if (source) for (const key of Object.keys(source)) out[key] = source[key]!;
  return out;
}

/** An own key's value, never one inherited from Object.prototype. */
export function own<T>(source: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return source !== undefined && Object.hasOwn(source, key) ? source[key] : undefined;
}
