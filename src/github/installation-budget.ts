// One installation's share of GitHub's secondary rate limit, spent as fast as it allows.
//
// GitHub allows 900 points a minute per installation (a write costs 5, a read 1) and
// 100 concurrent requests; past that it answers 403 with retry-after. The bucket holds
// one minute's worth: a burst of 180 writes goes at once. Points come back exactly one
// window after the request they paid for was answered (a sliding-window log: GitHub
// counted the request before it answered, whatever the latency or a token refresh
// inside the request added), not all at once at the top of each minute as the old
// reservoir did, so after a burst the pace follows the expiries
// and under steady demand it is a steady 3 writes a second. A bucket refilled
// continuously at 15 points a second would look smoother, but it can spend up to twice
// the limit inside one sliding minute (a full bucket plus a minute of refill) and then
// GitHub answers 403: that costs more time than it saves.
//
// Two priorities: "foreground" (dispatch: job look-ups, JIT configs, deletes) always
// goes first; "background" (reconcile reads) waits while any foreground request waits,
// may spend only above a reserve of points, and may use only part of the concurrency,
// so a reconcile pass can never take the points or slots a burst of jobs needs.
//
// Pure scheduling: the clock and the timer are injected, so tests drive time by hand.

export type RequestPriority = "foreground" | "background";

import { systemClock, type Clock } from "../lib/clock.js";

export interface BudgetLimits {
  /** Points that may be spent in any window (GitHub: 900 a minute; a burst of 180 writes). */
  capacity: number;
  /** The sliding window, in ms (GitHub: one minute); tests shrink it. */
  windowMs: number;
  /** Points below which background requests wait (left for dispatch). */
  backgroundReserve: number;
  /** Requests in flight at most (GitHub: 100 concurrent). */
  maxInFlight: number;
  /** Background requests in flight at most (the rest of the slots stay free for dispatch). */
  backgroundMaxInFlight: number;
}

export const GITHUB_SECONDARY_LIMITS: BudgetLimits = {
  capacity: 900,
  windowMs: 60_000,
  backgroundReserve: 300,
  maxInFlight: 100,
  backgroundMaxInFlight: 50,
};

/** What a status page or a metrics gauge shows for one installation. */
export interface BudgetHeadroom {
  /** Points that may still be spent in the current window. */
  points: number;
  capacity: number;
  inFlight: number;
  queued: { foreground: number; background: number };
  /** Epoch ms until which GitHub told us to wait (retry-after, x-ratelimit-reset); undefined when not paused. */
  pausedUntil: number | undefined;
  /** Epoch ms when the oldest points spent in the window come back; undefined when none are spent. */
  refillsAt: number | undefined;
}

/** What the request plugin needs of a budget: this local one, or the fleet's in Redis (shared-installation-budget.ts). */
export interface Budget {
  /** Resolves when the request may start; call the returned release() when it has finished. */
  acquire(cost: number, priority?: RequestPriority): Promise<() => void>;
  /** Counts `cost` points spent now without a slot (retries inside a granted request). */
  charge(cost: number): void;
  /** Holds every request of this installation until `untilMs` (GitHub said so). */
  pause(untilMs: number): void;
  headroom(): BudgetHeadroom;
  /** True when forgetting this budget changes nothing. */
  isIdle(): boolean;
}

interface Waiter {
  cost: number;
  grant: (release: () => void) => void;
}

export class InstallationBudget implements Budget {
  /** Points left: capacity minus what requests in flight and `spent` hold. */
  private points: number;
  /** What answered requests spent in the last window, by answer time, oldest first. */
  private readonly spent: Array<{ at: number; cost: number }> = [];
  private inFlight = 0;
  private backgroundInFlight = 0;
  private pausedUntil = 0;
  private readonly queues: Record<RequestPriority, Waiter[]> = { foreground: [], background: [] };
  private timer: unknown;
  private timerAt = Infinity;

  constructor(
    private readonly limits: BudgetLimits = GITHUB_SECONDARY_LIMITS,
    private readonly clock: Clock = systemClock,
  ) {
    this.points = limits.capacity;
  }

  /** Resolves when the request may start; call the returned release() when it has finished. */
  acquire(cost: number, priority: RequestPriority = "foreground"): Promise<() => void> {
    return new Promise((resolve) => {
      this.queues[priority].push({ cost: Math.min(cost, this.limits.capacity), grant: resolve });
      this.pump();
    });
  }

  /** Counts `cost` points spent now without a slot: what retries inside a granted request cost (they reach GitHub too). */
  charge(cost: number): void {
    if (cost <= 0) return;
    this.points -= cost;
    this.spent.push({ at: this.clock.now(), cost });
  }

  /** Holds every request of this installation until `untilMs` (GitHub said so). */
  pause(untilMs: number): void {
    if (untilMs <= this.pausedUntil) return;
    this.pausedUntil = untilMs;
    this.pump();
  }

  headroom(): BudgetHeadroom {
    this.refill();
    const now = this.clock.now();
    return {
      points: this.points,
      capacity: this.limits.capacity,
      inFlight: this.inFlight,
      queued: { foreground: this.queues.foreground.length, background: this.queues.background.length },
      pausedUntil: this.pausedUntil > now ? this.pausedUntil : undefined,
      refillsAt: this.spent.length > 0 ? this.spent[0]!.at + this.limits.windowMs : undefined,
    };
  }

  /** True when forgetting this budget changes nothing (full, idle, not paused). */
  isIdle(): boolean {
    const h = this.headroom();
    return h.points >= h.capacity && h.inFlight === 0 && h.queued.foreground + h.queued.background === 0 && h.pausedUntil === undefined;
  }

  /** Gives back the points spent more than one window ago. */
  private refill(): void {
    const horizon = this.clock.now() - this.limits.windowMs;
    while (this.spent.length > 0 && this.spent[0]!.at <= horizon) this.points += this.spent.shift()!.cost;
  }

  /** When `points` will be available (the spends that must expire first), as epoch ms; undefined while that depends on requests in flight (their release pumps). */
  private availableAt(points: number): number | undefined {
    let have = this.points;
    for (const s of this.spent) {
      have += s.cost;
      if (have >= points) return s.at + this.limits.windowMs;
    }
    return undefined;
  }

  /** Grants every waiter that may go now, oldest foreground first; arms a timer for the next one. */
  private pump(): void {
    for (;;) {
      this.refill();
      const now = this.clock.now();
      if (this.pausedUntil > now) return this.wakeAt(this.pausedUntil);
      const foreground = this.queues.foreground[0];
      if (foreground) {
        if (this.inFlight >= this.limits.maxInFlight) return; // a release pumps again
        if (this.points < foreground.cost) return this.wakeAt(this.availableAt(foreground.cost));
        this.queues.foreground.shift();
        this.start(foreground, "foreground");
        continue;
      }
      const background = this.queues.background[0];
      if (!background) return;
      if (this.inFlight >= this.limits.maxInFlight || this.backgroundInFlight >= this.limits.backgroundMaxInFlight) return;
      const needed = Math.min(this.limits.capacity, this.limits.backgroundReserve + background.cost);
      if (this.points < needed) return this.wakeAt(this.availableAt(needed));
      this.queues.background.shift();
      this.start(background, "background");
    }
  }

  private start(waiter: Waiter, priority: RequestPriority): void {
    this.points -= waiter.cost;
    this.inFlight++;
    if (priority === "background") this.backgroundInFlight++;
    let released = false;
    waiter.grant(() => {
      if (released) return;
      released = true;
      this.spent.push({ at: this.clock.now(), cost: waiter.cost });
      this.inFlight--;
      if (priority === "background") this.backgroundInFlight--;
      this.pump();
    });
  }

  private wakeAt(at: number | undefined): void {
    if (at === undefined) return;
    if (this.timer !== undefined && this.timerAt <= at) return;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Infinity;
        this.pump();
      },
      Math.max(0, at - this.clock.now()),
    );
  }
}
