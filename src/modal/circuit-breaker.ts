// A circuit breaker around sandbox creation. When Modal cannot create sandboxes,
// retrying every job's create (and minting a JIT registration for each attempt) only
// churns: hundreds of calls hit Modal as it comes back and GitHub's write budget goes
// on register/delete pairs. After `failureThreshold` consecutive transient failures
// the breaker opens; callers then wait (allows() is false, whenAllowed() resolves when
// a probe is due) and only one probe at a time reaches Modal, with capped exponential
// backoff between probes.
//
// It judges creation by creations (issue 14): a capacity incident can leave lists and
// lookups answering while every create fails, so a lookup's success proves nothing.
// The probe is one waiting job's real create (the first run() once a probe is due),
// and only a call made through run() closes it: the Fleet runs nothing but the
// sandbox create RPC through it. Errors that are not transient (ALREADY_EXISTS…) prove
// that the create path answers: they count as successes. A failure of a step a create
// needs first (resolving the app or the image) is reported with judge(): it counts
// against creation, but a step's success closes nothing.
//
// Pure logic: the clock and timers are injected, so tests drive time by hand.
import { systemClock, type Clock } from "../lib/clock.js";
import { describeFailure, isTransientModalError } from "../lib/errors.js";

export interface CircuitBreakerOptions {
  /** Consecutive transient failures that open the breaker. */
  failureThreshold: number;
  /** Wait before the first probe; doubles after each failed probe… */
  probeBaseMs: number;
  /** …up to this. */
  probeMaxMs: number;
  /** Which errors count against Modal (default: isTransientModalError). */
  isFailure?: (error: unknown) => boolean;
  /** Called once when the breaker opens: log one line. */
  onOpen?: (reason: string) => void;
  /** Called once when it closes again: log one line. */
  onClose?: (downForMs: number) => void;
  clock?: Clock;
}

export const DEFAULT_BREAKER_OPTIONS: CircuitBreakerOptions = { failureThreshold: 5, probeBaseMs: 1000, probeMaxMs: 30_000 };

export type BreakerSnapshot =
  | { state: "closed"; consecutiveFailures: number }
  | { state: "open"; reason: string; openedAt: number; nextProbeAt: number; probing: boolean; failedProbes: number };

/** Thrown by run() while the breaker is open and no probe is due. */
export class CircuitOpenError extends Error {
  override name = "CircuitOpenError";
  constructor(readonly reason: string) {
    super(`Modal is unavailable (circuit open): ${reason}`);
  }
}

interface Open {
  reason: string;
  openedAt: number;
  nextProbeAt: number;
  probeDelayMs: number;
  failedProbes: number;
  probing: boolean;
  timer: unknown;
}

export class CircuitBreaker {
  private readonly options: CircuitBreakerOptions;
  private readonly clock: Clock;
  private readonly isFailure: (error: unknown) => boolean;
  private consecutiveFailures = 0;
  private open: Open | undefined;
  private closedWaiters: Array<() => void> = [];
  private allowedWaiters: Array<() => void> = [];

  constructor(options: Partial<CircuitBreakerOptions> = {}) {
    this.options = { ...DEFAULT_BREAKER_OPTIONS, ...options };
    this.clock = options.clock ?? systemClock;
    this.isFailure = options.isFailure ?? isTransientModalError;
  }

  state(): BreakerSnapshot {
    const o = this.open;
    if (!o) return { state: "closed", consecutiveFailures: this.consecutiveFailures };
    return {
      state: "open",
      reason: o.reason,
      openedAt: o.openedAt,
      nextProbeAt: o.nextProbeAt,
      probing: o.probing,
      failedProbes: o.failedProbes,
    };
  }

  /** Would run() attempt a call now (closed, or open with a probe due and none running)? */
  allows(): boolean {
    const o = this.open;
    return !o || (!o.probing && this.clock.now() >= o.nextProbeAt);
  }

  /** Resolves when the breaker is closed. */
  whenClosed(): Promise<void> {
    if (!this.open) return Promise.resolve();
    return new Promise((resolve) => this.closedWaiters.push(resolve));
  }

  /** Resolves when allows() may be true: closed, or a probe is due. Callers race for the probe. */
  whenAllowed(): Promise<void> {
    if (this.allows()) return Promise.resolve();
    return new Promise((resolve) => this.allowedWaiters.push(resolve));
  }

  /**
   * The breaker as a dispatcher of creates sees it: why creates are refused now (open:
   * its reason; closed: undefined), whether one create may be tried as the probe, and
   * a promise of when either may have changed.
   */
  creation(): { unavailable(): string | undefined; probeDue(): boolean; whenAvailable(): Promise<void> } {
    return {
      unavailable: () => this.open?.reason,
      probeDue: () => this.open !== undefined && this.allows(),
      whenAvailable: () => this.whenAllowed(),
    };
  }

  /** Throws CircuitOpenError unless allows(): a cheap check before work that leads to a create. */
  check(): void {
    const o = this.open;
    if (o && !this.allows()) throw new CircuitOpenError(o.reason);
  }

  /**
   * A step a create needs first (resolving the app, building the image) failed
   * outside run(): a transient failure counts against creation as a failed call
   * would (as the failed probe when one is due). Other errors change nothing.
   */
  judge(error: unknown): void {
    if (!this.isFailure(error)) return;
    const o = this.open;
    if (o && !this.allows()) return; // started before the breaker opened, or beside the probe: adds nothing
    if (o) o.probing = true;
    this.failed(error, o !== undefined);
  }

  /** Runs `call` if the breaker allows it (as the probe when open); else throws CircuitOpenError. Its success closes the breaker. */
  async run<T>(call: () => Promise<T>): Promise<T> {
    const o = this.open;
    if (o && !this.allows()) throw new CircuitOpenError(o.reason);
    const probe = o !== undefined;
    if (o) o.probing = true;
    return this.attempt(call, probe);
  }

  private async attempt<T>(call: () => Promise<T>, probe: boolean): Promise<T> {
    let result: T;
    try {
      result = await call();
    } catch (error) {
      if (this.isFailure(error)) this.failed(error, probe);
      else this.succeeded();
      throw error;
    }
    this.succeeded();
    return result;
  }

  private succeeded(): void {
    this.consecutiveFailures = 0;
    const o = this.open;
    if (!o) return;
    this.open = undefined;
    if (o.timer !== undefined) this.clock.clearTimeout(o.timer);
    this.options.onClose?.(this.clock.now() - o.openedAt);
    this.wake("closed");
    this.wake("allowed");
  }

  private failed(error: unknown, probe: boolean): void {
    const o = this.open;
    if (!o) {
      if (++this.consecutiveFailures < this.options.failureThreshold) return;
      const reason = describeFailure(error).reason;
      const now = this.clock.now();
      this.open = {
        reason,
        openedAt: now,
        nextProbeAt: 0,
        probeDelayMs: this.options.probeBaseMs,
        failedProbes: 0,
        probing: false,
        timer: undefined,
      };
      this.scheduleProbe();
      this.options.onOpen?.(reason);
      return;
    }
    // A call that started before the breaker opened adds nothing; a failed probe backs off.
    if (!probe) return;
    o.probing = false;
    o.failedProbes++;
    o.probeDelayMs = Math.min(this.options.probeMaxMs, o.probeDelayMs * 2);
    this.scheduleProbe();
  }

  private scheduleProbe(): void {
    const o = this.open!;
    o.nextProbeAt = this.clock.now() + Math.min(o.probeDelayMs, this.options.probeMaxMs);
    o.timer = this.clock.setTimeout(() => this.probeDue(o), o.nextProbeAt - this.clock.now());
  }

  private probeDue(o: Open): void {
    if (this.open !== o) return;
    o.timer = undefined;
    this.wake("allowed");
  }

  private wake(which: "closed" | "allowed"): void {
    const waiters = which === "closed" ? this.closedWaiters : this.allowedWaiters;
    if (which === "closed") this.closedWaiters = [];
    else this.allowedWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
