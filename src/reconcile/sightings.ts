// Remembers since when a condition has held, across passes: "this registration has
// had no sandbox since …". A condition not seen in a pass is forgotten. A cache: a
// restart merely waits the grace period again.
export class Sightings {
  readonly #since = new Map<string, number>();

  /** Records the conditions seen now and returns since when each has held. */
  update(seen: Iterable<string>, now: number): Record<string, number> {
    const current = new Set(seen);
    for (const key of this.#since.keys()) if (!current.has(key)) this.#since.delete(key);
    const result: Record<string, number> = {};
    for (const key of current) {
      if (!this.#since.has(key)) this.#since.set(key, now);
      result[key] = this.#since.get(key)!;
    }
    return result;
  }
}
