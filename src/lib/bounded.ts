// A Map and a Set that forget their oldest entries past a size, for the caches and
// memories a long-running process keeps (job ids, sightings): weeks of jobs must
// not grow memory. Setting an existing key makes it the newest.
export class BoundedMap<K, V> extends Map<K, V> {
  constructor(private readonly limit: number) {
    super();
  }

  override set(key: K, value: V): this {
    super.delete(key);
    super.set(key, value);
    if (this.size > this.limit) super.delete(this.keys().next().value as K);
    return this;
  }
}

export class BoundedSet<T> extends Set<T> {
  constructor(private readonly limit: number) {
    super();
  }

  override add(value: T): this {
    super.delete(value);
    super.add(value);
    if (this.size > this.limit) super.delete(this.values().next().value as T);
    return this;
  }
}
