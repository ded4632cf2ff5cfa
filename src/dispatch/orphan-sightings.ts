// When a runner registration without a sandbox was first seen by a dispatch (keyed
// "<name>#<registration id>"), so a later attempt can tell whether another
// replica's attempt had time to create the sandbox. A cache: a restart merely waits
// the grace period again. Bounded: the oldest sightings go first.
const MAX_ENTRIES = 10_000;

export class OrphanSightings {
  readonly #since = new Map<string, number>();

  constructor(private readonly now: () => number) {}

  firstSeen(key: string): number {
    const known = this.#since.get(key);
    if (known !== undefined) return known;
    if (this.#since.size >= MAX_ENTRIES) this.#since.delete(this.#since.keys().next().value!);
    const at = this.now();
    this.#since.set(key, at);
    return at;
  }
}
