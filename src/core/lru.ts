/**
 * A bounded map for memoizing pure functions of attacker-chosen input (DIDs, resources, CIDs): a flood of
 * distinct values costs only misses, never memory. Two generations approximate least-recently-used without
 * touching the map on a hit: entries live in `young` until it fills, then `young` becomes `old` and the previous
 * `old` is dropped; an `old` entry that is read again moves back to `young`.
 */
export class LruCache<K, V> {
  #young = new Map<K, V>();
  #old = new Map<K, V>();
  readonly #generation: number;

  /** Holds at least `capacity / 2` and at most `capacity` entries. */
  constructor(capacity: number) {
    this.#generation = Math.max(1, Math.ceil(capacity / 2));
  }

  get(key: K): V | undefined {
    const young = this.#young.get(key);
    if (young !== undefined) return young;
    const old = this.#old.get(key);
    if (old !== undefined) this.set(key, old);
    return old;
  }

  set(key: K, value: V): void {
    if (this.#young.size >= this.#generation) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#young.set(key, value);
  }

  /** The cached value, or `compute(key)`, which is remembered unless it is undefined. */
  through(key: K, compute: (key: K) => V | undefined): V | undefined {
    const hit = this.get(key);
    if (hit !== undefined) return hit;
    const value = compute(key);
    if (value !== undefined) this.set(key, value);
    return value;
  }
}
