// Fair share across installations: each installation has its own queue of waiting
// jobs, oldest first, and free dispatch slots go round-robin to the installations
// whose GitHub request budget has room. A burst of one org then never holds the
// slots while it waits on its own budget: its jobs wait in its own queue, and
// another org's job takes the next free slot.
import type { BudgetHeadroom } from "../github/installation-budget.js";

/** Points one job's registration spends at GitHub: the job look-up (a read, 1) and the JIT config (a write, 5). */
export const JOB_POINTS = 6;

export type BudgetRoom = { room: true } | { room: false; reason: string; wakeAt: number | undefined };

/**
 * Whether an installation's budget can pay for one more job's registration now,
 * given `registering` of its jobs already registering (their requests may not have
 * been granted yet, so their points are counted as still to be spent). `wakeAt` is
 * when room may come back (undefined: when a request in flight ends).
 */
export function budgetRoom(headroom: BudgetHeadroom, registering: number, now: number): BudgetRoom {
  if (headroom.pausedUntil !== undefined && headroom.pausedUntil > now)
    return { room: false, reason: "GitHub asked this installation to wait (rate limit)", wakeAt: headroom.pausedUntil };
  if (headroom.queued.foreground > 0) return { room: false, reason: "this installation's GitHub requests are queued", wakeAt: undefined };
  if (headroom.points - JOB_POINTS * registering < JOB_POINTS)
    return { room: false, reason: "this installation's GitHub request budget is spent", wakeAt: headroom.refillsAt };
  return { room: true };
}

/** Installations whose last turn is remembered. */
const MAX_REMEMBERED_TURNS = 10_000;

/**
 * Per-key queues, each kept in `order`, and the keys in round-robin order: the key
 * served longest ago comes first (serving a key moves it to the back).
 */
export class FairQueue<T extends { id: number }> {
  /**
   * Each queue is an array read from `head` on: the oldest leaves first, and moving
   * a long array's elements for that would cost a copy of the queue per start.
   */
  readonly #queues = new Map<number, { items: T[]; head: number }>();
  /** When each key was last given a slot (a counter), in that order. */
  readonly #servedAt = new Map<number, number>();
  #tick = 0;
  #size = 0;

  constructor(private readonly order: (a: T, b: T) => number) {}

  get size(): number {
    return this.#size;
  }

  add(key: number, item: T): void {
    let queue = this.#queues.get(key);
    if (!queue) this.#queues.set(key, (queue = { items: [], head: 0 }));
    // Arrivals are mostly in order: they go to the end.
    queue.items.splice(this.#after(queue, item), 0, item);
    this.#size++;
  }

  remove(key: number, item: T): boolean {
    const queue = this.#queues.get(key);
    if (!queue) return false;
    const index = this.#after(queue, item) - 1;
    if (index < queue.head || queue.items[index]?.id !== item.id) return false;
    if (index === queue.head) queue.items[queue.head++] = undefined as unknown as T;
    else queue.items.splice(index, 1);
    this.#size--;
    if (queue.head === queue.items.length) this.#queues.delete(key);
    else if (queue.head > 1024 && queue.head * 2 > queue.items.length) {
      queue.items = queue.items.slice(queue.head);
      queue.head = 0;
    }
    return true;
  }

  /** Keys with waiting items, whose turn is first coming first: never served, then served longest ago. */
  turns(): number[] {
    return [...this.#queues.keys()].sort((a, b) => (this.#servedAt.get(a) ?? -1) - (this.#servedAt.get(b) ?? -1));
  }

  /** One key's items, in order (a walk of the live queue: stop walking once you add or remove). */
  *items(key: number): Generator<T> {
    const queue = this.#queues.get(key);
    if (!queue) return;
    for (let index = queue.head; index < queue.items.length; index++) yield queue.items[index]!;
  }

  /** Every item, each key's in order. */
  *all(): Generator<T> {
    for (const key of this.#queues.keys()) yield* this.items(key);
  }

  /** `key` got a slot: its next turn comes after every other key's (even if its queue empties meanwhile). */
  served(key: number): void {
    this.#servedAt.delete(key);
    this.#servedAt.set(key, ++this.#tick);
    // Forget the turns of keys long idle (a key never served counts as served longest ago anyway).
    if (this.#servedAt.size > MAX_REMEMBERED_TURNS) {
      for (const idle of this.#servedAt.keys()) {
        if (this.#servedAt.size <= MAX_REMEMBERED_TURNS / 2) break;
        if (!this.#queues.has(idle)) this.#servedAt.delete(idle);
      }
    }
  }

  /** The index just after the last item ordered at or before `item` (binary search). */
  #after(queue: { items: T[]; head: number }, item: T): number {
    let low = queue.head;
    let high = queue.items.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.order(queue.items[middle]!, item) <= 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
