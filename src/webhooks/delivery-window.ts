// The delivery ids seen lately, so a replayed delivery (the same `X-GitHub-Delivery`,
// whether GitHub's redelivery of one we did handle or a captured delivery sent again)
// is acknowledged and ignored rather than acted on twice: a replayed `completed`
// would otherwise force a reconcile pass each time. Bounded: the oldest ids are
// forgotten first; a replay older than the window meets the App's idempotence
// (deterministic runner and sandbox names) instead.
import { BoundedSet } from "../lib/bounded.js";

/** About a day of a busy App's deliveries, some 1 MB of ids. */
export const DELIVERY_WINDOW = 20_000;

export class DeliveryWindow {
  readonly #seen: BoundedSet<string>;

  constructor(size = DELIVERY_WINDOW) {
    this.#seen = new BoundedSet(size);
  }

  /** True the first time `deliveryId` is seen (within the window); it is then remembered. */
  firstTime(deliveryId: string): boolean {
    if (this.#seen.has(deliveryId)) return false;
    this.#seen.add(deliveryId);
    return true;
  }

  /** A delivery whose handler failed may be sent again (GitHub's redelivery): forget it. */
  forget(deliveryId: string): void {
    this.#seen.delete(deliveryId);
  }
}
