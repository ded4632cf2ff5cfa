// Remembers the promise of a look-up per key, so concurrent and later callers share
// one call; a look-up that fails is forgotten, so the next caller tries again (the
// thing may exist by then: a runner group created, Modal reachable again).
import { BoundedMap } from "./bounded.js";

export class PromiseMemo<K, V> {
  readonly #promises: BoundedMap<K, Promise<V>>;

  constructor(limit = 10_000) {
    this.#promises = new BoundedMap(limit);
  }

  get(key: K, lookUp: () => Promise<V>): Promise<V> {
    let promise = this.#promises.get(key);
    if (!promise) {
      promise = lookUp();
      this.#promises.set(key, promise);
      promise.catch(() => {
        if (this.#promises.get(key) === promise) this.#promises.delete(key);
      });
    }
    return promise;
  }
}
