// Real time that a test can skip ahead, for a whole App on real sockets: now() is the
// wall clock plus whatever the test skipped, and a timer fires when its time comes,
// whether by the wall clock (the App's millisecond retries keep working unattended)
// or because the test advanced past it (a reconcile interval, a grace period, a
// breaker's backoff: minutes of the App's time without waiting for them). The fakes
// keep the wall clock, so after advance(60_000) the App sees what GitHub said a
// minute ago. (ManualClock, whose time moves only by hand, suits pure parts.)
import type { Clock } from "../../src/lib/clock.js";
import { flush } from "./manual-clock.js";

interface Timer {
  at: number;
  fn: () => void;
  real: NodeJS.Timeout;
}

export class FastForwardClock implements Clock {
  #skipped = 0;
  #nextId = 1;
  readonly #timers = new Map<number, Timer>();

  now = (): number => Date.now() + this.#skipped;

  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = this.#nextId++;
    const delay = Math.max(0, ms);
    // The wall clock's own timer: never later than the App asked (skipping only brings it earlier).
    const real = setTimeout(() => this.#fire(id), delay);
    real.unref();
    this.#timers.set(id, { at: this.now() + delay, fn, real });
    return id;
  };

  clearTimeout = (handle: unknown): void => {
    const timer = this.#timers.get(handle as number);
    if (!timer) return;
    clearTimeout(timer.real);
    this.#timers.delete(handle as number);
  };

  /**
   * Skips `ms` ahead, firing the timers that fall due in order (and the promise callbacks
   * they start). With `stepMs`, in steps, each followed by `settle` (default: one turn of
   * I/O) so that a timer armed when a call ends (a breaker's next probe) falls due at its
   * own time; `settle` waits for the work a step started (e.g. the App's idle()).
   */
  async advance(ms: number, steps?: { stepMs: number; settle?: () => Promise<unknown> }): Promise<void> {
    if (steps && steps.stepMs < ms) {
      const settle = steps.settle ?? (() => new Promise((resolve) => setImmediate(resolve)));
      for (let done = 0; done < ms; done += steps.stepMs) {
        await this.advance(Math.min(steps.stepMs, ms - done));
        await settle();
      }
      return;
    }
    this.#skipped += ms;
    for (;;) {
      await flush();
      const now = this.now();
      const due = [...this.#timers].filter(([, t]) => t.at <= now).sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
      if (!due) break;
      this.#fire(due[0]);
    }
  }

  /** Timers armed and not yet fired (e.g. the reconciler's interval). */
  pendingTimers(): number {
    return this.#timers.size;
  }

  #fire(id: number): void {
    const timer = this.#timers.get(id);
    if (!timer) return;
    clearTimeout(timer.real);
    this.#timers.delete(id);
    timer.fn();
  }
}
