// When a runner registration without a sandbox was first seen by a dispatch (keyed
// "<name>#<registration id>"), so a later attempt can tell whether another
// replica's attempt had time to create the sandbox. A cache: a restart merely waits
// the grace period again. Bounded: the oldest sightings go first.
import { BoundedMap } from "../lib/bounded.js";

export class OrphanSightings {
  readonly #since = new BoundedMap<string, number>(10_000);

  constructor(private readonly now: () => number) {}

  firstSeen(key: string): number {
    const known = this.#since.get(key);
    if (known !== undefined) return known;
    const at = this.now();
    this.#since.set(key, at);
    return at;
  }
}
