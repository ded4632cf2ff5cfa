// Remembers since when something has been seen ("this registration has had no
// sandbox since …"), for grace periods. A dispatch asks about one key at a time
// (`firstSeen`); a reconcile pass reports all it saw at once (`update`), and what it
// did not see is forgotten. A cache: a restart merely waits the grace period again.
// Bounded: past `limit` keys, the oldest sightings go first.
import { BoundedMap } from "./bounded.js";

export class Sightings {
  readonly #since: BoundedMap<string, number>;

  constructor(limit = 10_000) {
    this.#since = new BoundedMap(limit);
  }

  /** Since when `key` has been seen: `now` the first time. */
  firstSeen(key: string, now: number): number {
    const known = this.#since.get(key);
    if (known !== undefined) return known;
    this.#since.set(key, now);
    return now;
  }

  /** Records the keys seen now, forgets the others, and returns since when each seen key has been seen. */
  update(seen: Iterable<string>, now: number): Record<string, number> {
    const current = new Set(seen);
    for (const key of this.#since.keys()) if (!current.has(key)) this.#since.delete(key);
    const result: Record<string, number> = {};
    for (const key of current) result[key] = this.firstSeen(key, now);
    return result;
  }
}
