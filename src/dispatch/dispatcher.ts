// Runs `serveJob` for queued jobs after the webhook has been answered, and writes
// each job's life down in one place: a JobState per job (job-state.ts) in one
// bounded map (job-book.ts). A job is planned (policy: profile and caps), then waits
// in its installation's queue; free dispatch slots go round-robin to installations
// whose GitHub request budget has room (fair-share.ts), oldest job first within an
// installation, each job only once a cap slot is reserved for it and while Modal
// can take sandboxes (its circuit breaker is closed). A registration minted before
// Modal failed stays with the waiting job and is reused. Jobs that could not be
// served are kept for the reconciler (a cache: it also rediscovers them from GitHub).
//
// Seams for a fleet (several replicas): `#claim` is where a job becomes this
// replica's to serve, `capacity.reserve`/`release` where a cap slot is taken and
// given back. With a fleet's Redis (docs/scaling.md), a job is claimed fleet-wide
// before it is planned (a job claimed elsewhere is already served), and the local cap
// slot the synchronous pump reserved is confirmed fleet-wide when the job starts
// being served, before its runner is registered: a cap the fleet has reached sends the
// job back to wait (looked at again after FLEET_CAP_RECHECK_MS). Without them every
// step is exactly the single-process one.
import type { Logger } from "pino";
import type { BudgetHeadroom } from "../github/installation-budget.js";
import type { Clock } from "../lib/clock.js";
import { BoundedSet } from "../lib/bounded.js";
import { describeFailure } from "../lib/errors.js";
import { fullName, oldestFirst, repositoryKey, type JobRef } from "../model/job.js";
import type { JobPlan } from "../policy/job-policy.js";
import type { FleetCaps } from "../replicas/cap-reservations.js";
import type { JobClaims } from "../replicas/job-claims.js";
import { INSTALLATION_CAP, TOTAL_CAP, type Capacity, type ListedSandbox } from "./capacity.js";
import { budgetRoom, FairQueue, type BudgetRoom } from "./fair-share.js";
import { JobBook, type HandledJob, type UnservedJob } from "./job-book.js";
import * as transition from "./job-state.js";
import { holdsSlot, isActive, isBusy, type JobState, type Planning, type WaitingFor } from "./job-state.js";
import { ModalUnavailable, type ServeOutcome, type ServeRequest } from "./serve-job.js";
import { stillQueuedCheckNeeded } from "./still-queued-check.js";

export type DispatchOutcome = ServeOutcome["kind"] | "failed" | "refused" | "waiting";

/** One thing that happened to a job here: what tests, metrics and the status page read. */
export interface OutcomeRecord {
  kind: DispatchOutcome;
  job: JobRef;
  /** Epoch ms. */
  at: number;
  /** When the job was handed to the dispatcher (the webhook's arrival, or a reconcile pass). */
  enqueuedAt: number;
  profile?: string;
  reason?: string;
  runnerName?: string;
  sandboxId?: string;
  /** The runner name's attempt number, once planned. */
  attempt?: number;
  /** For a `waiting` record: what the job waits for. */
  waitingFor?: WaitingFor;
}

export interface DispatcherOptions {
  /** Jobs being registered or getting their sandbox at once (dispatch slots). */
  concurrency: number;
  plan: (job: JobRef) => Promise<JobPlan>;
  serve: (job: JobRef, request: ServeRequest) => Promise<ServeOutcome>;
  capacity: Capacity;
  /**
   * Why Modal cannot take a sandbox now (undefined: it can); whether one create may be
   * tried as the probe (its breaker is open and a probe is due); and a promise of
   * when either may have changed (closed, or a probe due).
   */
  modal: { unavailable(): string | undefined; probeDue(): boolean; whenAvailable(): Promise<void> };
  /** A fleet's job claims (Redis); without them this replica serves whatever it is given. */
  claims?: JobClaims;
  /** A fleet's caps (Redis), confirmed when a job starts being served; without them the local count decides alone. */
  fleetCaps?: FleetCaps;
  /**
   * How long after a job's creation its queued webhook alone vouches that it is still
   * queued, so its first registration goes without a look-up (still-queued-check.ts);
   * 0 or unset: always look it up.
   */
  trustQueuedWebhookForMs?: number;
  /** Each installation's GitHub request budget (RequestBudgets); without it every installation has room. */
  budgets?: { headroom(installationId: number): BudgetHeadroom };
  log: Logger;
  clock: Clock;
  onOutcome?: (record: OutcomeRecord) => void;
  /** The job-state map to write (shared with its readers); default: a map of its own. */
  jobs?: JobBook;
}

export type { UnservedJob } from "./job-book.js";
/** How soon to look at a budget again when it cannot say when it will have room. */
const BUDGET_RECHECK_MS = 250;
/** How soon a job the fleet's caps turned away is tried again (a sandbox ending on another replica tells no one here). */
export const FLEET_CAP_RECHECK_MS = 2_000;

type Waiting = JobState & { state: "waiting" };
type Queued = Waiting & { for: Exclude<WaitingFor, "retry"> };
type WithAttempt = JobState & { attempt: transition.Attempt };

/** A waiting job that sits in its installation's queue (a retry waits on its timer instead). */
const queued = (state: JobState | undefined): state is Queued => state?.state === "waiting" && state.for !== "retry";

export class Dispatcher {
  /** The one map of job states: ours to write; the reconciler and telemetry read it too (options.jobs). */
  readonly #jobs: JobBook;
  /** The queued jobs, per installation (an index of #jobs: waiting jobs that are not retries). */
  readonly #queue = new FairQueue<JobRef>(oldestFirst);
  /** Jobs holding a dispatch slot (registering or creating). */
  #inFlight = 0;
  /** Jobs registering, per installation: their GitHub points are counted as still to be spent. */
  readonly #registering = new Map<number, number>();
  /** Jobs that keep `idle()` waiting. */
  #busy = 0;
  #idleWaiters: Array<() => void> = [];
  /** Set while a pump is promised for when Modal is available again. */
  #modalWatch: Promise<void> | undefined;
  /**
   * Jobs GitHub said are over (completed or cancelled, or their repository left the
   * installation) while an attempt was in flight: when that attempt fails, or Modal
   * refuses its create, the job is forgotten, not failed (which the reconciler would
   * serve again) nor left waiting for Modal. Kept beside the states, not in them: an attempt in
   * flight holds its state by identity.
   */
  readonly #overInFlight = new BoundedSet<number>(10_000);
  /** The job whose create is the probe while Modal's breaker is open (one at a time). */
  #probe: number | undefined;
  /** A timer to look at budgets that had no room, and when it fires. */
  #budgetWake: { at: number; handle: unknown } | undefined;
  #pumping = false;
  #pumpAgain = false;
  #stopped = false;
  /** Jobs the fleet's caps turned away, and when to try them again (epoch ms). */
  readonly #fleetCapHeld = new Map<number, number>();

  constructor(private readonly options: DispatcherOptions) {
    this.#jobs = options.jobs ?? new JobBook();
  }

  /**
   * Starts serving the job (under runner name attempt `attempt`) unless it is already
   * being served here. `via`: what says the job is queued, a queued webhook or a reconcile pass.
   */
  enqueue(job: JobRef, attempt = 0, via: "webhook" | "reconcile" = "reconcile"): boolean {
    const previous = this.#jobs.get(job.id);
    if (isActive(previous) || this.#stopped) return false;
    if (via === "webhook" && previous?.state === "running") {
      // The queued webhook of a job whose runner this replica started (a reconcile pass
      // served it before the webhook came, or a second delivery): nothing new to learn
      // from GitHub, and a runner taken by another job is the reconciler's to replace.
      this.#record("already-served", previous, { runnerName: previous.runnerName, reason: "its runner was started here" });
      return false;
    }
    const state = transition.enqueued(job, attempt, this.options.clock.now(), previous, via === "webhook");
    this.#claim(state);
    void this.#plan(state);
    return true;
  }

  /** A slot may have freed, a budget refilled, or Modal recovered: start the jobs whose turn it is. */
  pump(): void {
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        this.#pumpOnce();
      } while (this.#pumpAgain);
    } finally {
      this.#pumping = false;
    }
    this.#checkIdle();
  }

  /** The job is over (completed or cancelled): stop waiting for it, and drop it from the unserved. */
  forget(jobId: number): void {
    const state = this.#jobs.get(jobId);
    if (!state) return;
    if (state.state === "waiting") {
      this.options.log.info({ jobId, waitedFor: state.for }, "job completed while waiting; dropped from the wait");
      this.#set(transition.forgotten(state, this.options.clock.now()));
      this.#checkIdle();
    } else if (state.state === "finished" && state.kind === "failed") {
      this.#set(transition.forgotten(state, this.options.clock.now()));
    } else if (isActive(state)) {
      this.#overInFlight.add(jobId);
    }
  }

  /** Resolves when no job is being planned, served or queued for a slot (jobs waiting for a cap, Modal or a retry aside). */
  idle(): Promise<void> {
    if (this.#busy === 0 || this.#stopped) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Jobs whose dispatch is in flight, waiting, or ended at or after `since` (JobBook). */
  dispatching(since: number): number[] {
    return this.#jobs.dispatching(since);
  }

  /** Jobs whose last attempt failed, for the reconciler (JobBook). */
  unserved(): UnservedJob[] {
    return this.#jobs.unserved();
  }

  /** Jobs waiting (for a slot, their budget, a cap, Modal or a retry), oldest first (JobBook). */
  waiting(): JobRef[] {
    return this.#jobs.waiting();
  }

  /**
   * Our runner `runnerName`, made for job `jobId`, took job `took`: job `jobId` is left
   * without a runner. A runner takes only jobs of its own installation and owner, so an
   * event saying otherwise changes nothing. In a fleet the ended claim of the dispatch
   * that made the runner stops saying "served", so any replica's next pass serves the
   * job (from GitHub's runner list: plan-repairs skips the grace for it); the replica
   * whose dispatch made this very runner serves it again at once, under the next name.
   */
  runnerTaken(jobId: number, runnerName: string, took: JobRef): void {
    const known = this.#jobs.get(jobId);
    const again =
      known?.state === "running" &&
      known.runnerName === runnerName &&
      known.job.installationId === took.installationId &&
      known.job.repository.owner === took.repository.owner
        ? known
        : undefined;
    const reopened = this.options.claims?.reopen({ id: jobId, installationId: took.installationId }) ?? Promise.resolve();
    void reopened.then(() => {
      if (again && this.#jobs.get(jobId) === again) this.enqueue(again.job, again.attempt.number + 1);
    });
  }

  /** One job's state here (read-only), if this replica knows it. */
  jobState(jobId: number): Readonly<JobState> | undefined {
    return this.#jobs.get(jobId);
  }

  /** Every job state this replica holds: those it works on, and the most recent it is done with. */
  states(): Array<Readonly<JobState>> {
    return [...this.#jobs.values()];
  }

  /** Jobs this replica is handling, by state, with the profile chosen for them (once known) (JobBook). */
  jobs(): HandledJob[] {
    return this.#jobs.handled();
  }

  /**
   * Why Modal cannot take this replica's jobs, as readiness reports it (undefined: it
   * can). Modal's breaker closes only on a create and never probes by itself: once a
   * probe is due and no job waits or is under way, the next job's create is the probe,
   * so the App is ready for it (else a readiness gate would keep away the very webhook
   * that closes the breaker).
   */
  modalUnavailable(): string | undefined {
    const reason = this.options.modal.unavailable();
    return reason !== undefined && (!this.options.modal.probeDue() || this.jobs().length > 0) ? reason : undefined;
  }

  /** A reconcile pass listed the sandboxes: the cap counts start again from them, here and fleet-wide, and a waiting job may start. */
  sandboxesListed(sandboxes: ListedSandbox[], listedAt: number): void {
    this.options.capacity.observe(sandboxes, listedAt);
    this.options.fleetCaps?.observe(sandboxes, listedAt);
    this.pump();
  }

  /** A sandbox ended (its runner finished, or a pass terminated it): its cap slot frees here and fleet-wide, and a waiting job may start. */
  sandboxEnded(name: string, installationId: number, repository?: string): void {
    this.options.capacity.ended(name, installationId, repository);
    this.options.fleetCaps?.ended(name, installationId, repository);
    this.pump();
  }

  /** Starts nothing more (jobs already being served finish); whoever waits for idle() stops waiting. */
  stop(): void {
    this.#stopped = true;
    if (this.#budgetWake) this.options.clock.clearTimeout(this.#budgetWake.handle);
    this.#budgetWake = undefined;
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }

  /**
   * Where a job becomes this replica's to serve. One replica's map: a fleet-wide
   * claim (so two replicas never serve one job at once) belongs here.
   */
  #claim(state: JobState): void {
    this.#set(state);
  }

  /** Takes the fleet-wide claim (renewed while the job waits or works); false when another replica holds it. */
  async #claimInFleet(state: Planning): Promise<boolean> {
    const { claims } = this.options;
    if (!claims || (await claims.claim(state.job.id))) return true;
    if (this.#jobs.get(state.job.id) !== state) return false;
    this.options.log.debug(this.#fields(state.job), "job is being served by another replica");
    const next = transition.claimedElsewhere(state, this.options.clock.now());
    this.#set(next);
    this.#record("already-served", next, { reason: "claimed by another replica" });
    this.#checkIdle();
    return false;
  }

  /** Every state change goes through here: the map, the queue index and the counters follow. */
  #set(next: JobState): void {
    if (!isActive(next)) this.#overInFlight.delete(next.job.id);
    const previous = this.#jobs.get(next.job.id);
    if (previous === next) return;
    const installationId = next.job.installationId;
    if (queued(previous) && !queued(next)) this.#queue.remove(installationId, previous.job);
    if (!queued(previous) && queued(next)) this.#queue.add(installationId, next.job);
    if (previous && holdsSlot(previous)) this.#inFlight--;
    if (holdsSlot(next)) this.#inFlight++;
    const registeringDelta = (next.state === "registering" ? 1 : 0) - (previous?.state === "registering" ? 1 : 0);
    if (registeringDelta !== 0) {
      const count = (this.#registering.get(installationId) ?? 0) + registeringDelta;
      if (count > 0) this.#registering.set(installationId, count);
      else this.#registering.delete(installationId);
    }
    this.#busy += (isBusy(next) ? 1 : 0) - (previous && isBusy(previous) ? 1 : 0);
    if (!queued(next)) this.#fleetCapHeld.delete(next.job.id);
    // The dispatch is over (a sandbox runs, or nothing more is done here): the fleet-wide claim lapses soon.
    if (isActive(previous) && !isActive(next)) this.options.claims?.release(next.job);
    this.#jobs.set(next);
  }

  #checkIdle(): void {
    if (this.#busy > 0 || this.#idleWaiters.length === 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  #fields(job: JobRef) {
    return { jobId: job.id, repo: fullName(job.repository), installationId: job.installationId };
  }

  /** Applies policy; a planned job joins its installation's queue. */
  async #plan(state: Planning): Promise<void> {
    const { log, clock } = this.options;
    const { job } = state;
    if (this.options.claims && !(await this.#claimInFleet(state))) return;
    let plan: JobPlan;
    try {
      plan = await this.options.plan(job);
    } catch (error) {
      this.#failed(job.id, error);
      return this.#checkIdle();
    }
    if (this.#jobs.get(job.id) !== state) return; // stopped, or evicted: nothing to do
    if (!plan.ok) {
      if (!state.refusedBefore) {
        log.info({ ...this.#fields(job), reason: plan.reason }, "job refused by policy");
        this.#record("refused", state, { reason: plan.reason });
      }
      this.#set(transition.refused(state, plan.reason, clock.now()));
      return this.#checkIdle();
    }
    const placement = { installationId: job.installationId, repository: repositoryKey(job.repository), profile: plan.profile.name };
    this.#set(transition.planned(state, { number: state.attemptNumber, profile: plan.profile, caps: plan.caps, placement }, clock.now()));
    this.pump();
  }

  /** Starts every queued job whose turn it is, one per installation per round, while slots are free. */
  #pumpOnce(): void {
    if (this.#stopped) return;
    const { clock, concurrency } = this.options;
    const now = clock.now();
    const modalDown = this.options.modal.unavailable();
    if (modalDown !== undefined) {
      for (const job of [...this.#queue.all()]) this.#wait(this.#jobs.get(job.id) as Queued, "modal", modalDown);
      this.#startProbe();
      // Wake when the next probe is due. Not while one is under way (its end pumps) nor
      // while one is due but no job fits a cap (a freed slot pumps): whenAvailable()
      // would resolve at once, and pumping again would spin.
      if (this.#queue.size > 0 && this.#probe === undefined && !this.options.modal.probeDue()) this.#watchModal();
      return;
    }
    let wakeAt = Infinity;
    /** Installations none of whose jobs can start in this pump (no budget room, or every job over a cap). */
    const held = new Set<number>();
    // A cap that every job counts under (the total, or its installation's), once reached,
    // stays reached for the rest of this pump (nothing frees a slot meanwhile): the jobs
    // already waiting for capacity are not tried again. With a backlog behind a reached
    // cap, every pump tried every waiting job before.
    let totalReached = false;
    const installationReached = new Set<number>();
    for (let progress = true; progress && this.#inFlight < concurrency;) {
      progress = false;
      for (const installationId of this.#queue.turns()) {
        if (this.#inFlight >= concurrency) break;
        if (held.has(installationId)) continue;
        held.add(installationId);
        const room = this.#budgetRoom(installationId, now);
        const jobs = this.#queue.items(installationId);
        if (!room.room) {
          for (const job of jobs) this.#wait(this.#jobs.get(job.id) as Queued, "budget", room.reason);
          wakeAt = Math.min(wakeAt, room.wakeAt ?? now + BUDGET_RECHECK_MS);
          continue;
        }
        for (const job of jobs) {
          const state = this.#jobs.get(job.id) as Queued;
          const heldUntil = this.#fleetCapHeld.get(job.id);
          if (heldUntil !== undefined && heldUntil > now) {
            wakeAt = Math.min(wakeAt, heldUntil);
            continue;
          }
          if ((totalReached || installationReached.has(installationId)) && state.for === "capacity") continue;
          const reservation = this.#reserve(state);
          if (!reservation.ok) {
            if (reservation.cap === TOTAL_CAP) totalReached = true;
            if (reservation.cap === INSTALLATION_CAP) installationReached.add(installationId);
            this.#wait(state, "capacity", `cap reached: ${reservation.reason}`);
            continue;
          }
          this.#queue.served(installationId);
          this.#start(state);
          held.delete(installationId);
          progress = true;
          break;
        }
      }
    }
    if (wakeAt !== Infinity) this.#wakeForBudget(Math.max(wakeAt, now + 1));
  }

  /**
   * While Modal creates no sandboxes, one waiting job (the oldest that fits) is served
   * when a probe is due: its real create tells whether Modal creates again. The others
   * stay put, so a probe costs one create and one job's GitHub calls, whatever the queue.
   */
  #startProbe(): void {
    if (this.#probe !== undefined || !this.options.modal.probeDue()) return;
    for (const job of [...this.#queue.all()].sort(oldestFirst)) {
      const state = this.#jobs.get(job.id) as Queued;
      if (!this.#reserve(state).ok) continue;
      this.#probe = job.id;
      this.options.log.info(
        { ...this.#fields(job), profile: state.attempt.profile.name },
        "trying a waiting job's create as Modal's probe",
      );
      this.#start(state);
      return;
    }
  }

  /** Takes a local cap slot: on every cap, or on this replica's share of them while a fleet's Redis is away. */
  #reserve(state: Queued) {
    const { capacity, fleetCaps } = this.options;
    const caps = fleetCaps ? fleetCaps.localCaps(state.attempt.caps) : state.attempt.caps;
    return capacity.reserve(state.job.id, state.attempt.placement, caps);
  }

  /** The job's cap slot is given back: here, and in the fleet's count. */
  #release(jobId: number): void {
    this.options.capacity.release(jobId);
    this.options.fleetCaps?.release(jobId);
  }

  /**
   * A fleet confirms the local cap slot in Redis before the runner is registered. When
   * the fleet's cap is reached the job waits for capacity again, held back from the
   * pump for FLEET_CAP_RECHECK_MS (else every pump would ask Redis again at once).
   */
  async #reserveInFleet(state: WithAttempt): Promise<boolean> {
    const { fleetCaps, clock, log } = this.options;
    if (!fleetCaps) return true;
    const { job, attempt } = state;
    const reservation = await fleetCaps.reserve(job.id, attempt.placement, attempt.caps);
    if (reservation.ok) return true;
    this.options.capacity.release(job.id);
    const current = this.#jobs.get(job.id) as WithAttempt;
    const reason = `cap reached: ${reservation.reason}`;
    const next = transition.waitingForFleetCap(current, reason, clock.now()) as Queued;
    this.#set(next);
    const until = clock.now() + FLEET_CAP_RECHECK_MS;
    this.#fleetCapHeld.set(job.id, until);
    this.#wakeForBudget(until);
    log.info({ ...this.#fields(job), profile: attempt.profile.name, reason }, "job waits for capacity");
    this.#record("waiting", next, { reason, waitingFor: "capacity" });
    this.pump();
    return false;
  }

  #budgetRoom(installationId: number, now: number): BudgetRoom {
    const headroom = this.options.budgets?.headroom(installationId);
    return headroom ? budgetRoom(headroom, this.#registering.get(installationId) ?? 0, now) : { room: true };
  }

  /** The queued job now waits for `what`; said once (log line, outcome record) when it starts waiting for a cap or Modal. */
  #wait(state: Queued, what: Exclude<WaitingFor, "retry">, reason: string | undefined): void {
    // Still over a cap: the job keeps the state (and the reason) it started waiting with,
    // rather than a new state whenever the count in the reason moves.
    if (what === "capacity" && state.for === "capacity") return;
    const next = transition.waitingFor(state, what, reason, this.options.clock.now()) as Queued;
    if (next === state) return;
    const first = state.for !== what;
    this.#set(next);
    if (!first || (what !== "capacity" && what !== "modal")) return;
    const { attempt } = next;
    this.options.log.info(
      { ...this.#fields(next.job), profile: attempt.profile.name, reason, registrationKept: attempt.minted !== undefined },
      what === "capacity" ? "job waits for capacity" : "job waits for Modal",
    );
    this.#record("waiting", next, { reason, waitingFor: what });
  }

  #watchModal(): void {
    this.#modalWatch ??= this.options.modal.whenAvailable().then(() => {
      this.#modalWatch = undefined;
      this.pump();
    });
  }

  #wakeForBudget(at: number): void {
    const { clock } = this.options;
    if (this.#budgetWake && this.#budgetWake.at <= at) return;
    if (this.#budgetWake) clock.clearTimeout(this.#budgetWake.handle);
    const handle = clock.setTimeout(() => {
      this.#budgetWake = undefined;
      this.pump();
    }, at - clock.now());
    this.#budgetWake = { at, handle };
  }

  /** Given a slot and a reserved cap slot: serve it. */
  #start(state: Queued): void {
    if (state.for === "capacity" || state.for === "modal" || state.for === "budget")
      this.options.log.info(
        { ...this.#fields(state.job), profile: state.attempt.profile.name, waitedFor: state.for },
        "starting a waiting job",
      );
    const next = transition.registering(state, state.attempt, this.options.clock.now());
    this.#set(next);
    void this.#serve(next as WithAttempt);
  }

  async #serve(state: WithAttempt): Promise<void> {
    try {
      await this.#serveAttempt(state);
    } finally {
      if (this.#probe === state.job.id) {
        this.#probe = undefined;
        this.pump();
      }
    }
  }

  async #serveAttempt(state: WithAttempt): Promise<void> {
    const { log, clock } = this.options;
    const { job, attempt } = state;
    // Only a fleet awaits here: one process starts serving in the same tick the slot was given.
    if (this.options.fleetCaps && !(await this.#reserveInFleet(state))) return;
    const fields = { ...this.#fields(job), profile: attempt.profile.name };
    let outcome: ServeOutcome;
    try {
      const lookUp = stillQueuedCheckNeeded(job, {
        fromQueuedWebhook: state.fromQueuedWebhook,
        attempt: attempt.number,
        reusesRegistration: attempt.minted !== undefined,
        trustedForMs: this.options.trustQueuedWebhookForMs ?? 0,
        now: clock.now(),
      });
      outcome = await this.options.serve(job, {
        attempt: attempt.number,
        profile: attempt.profile,
        minted: attempt.minted,
        ...(!lookUp && { knownQueued: true }),
        onRegistered: (runnerName) => this.#registered(job.id, runnerName),
      });
    } catch (error) {
      this.#release(job.id);
      const current = this.#jobs.get(job.id) as WithAttempt;
      if (error instanceof ModalUnavailable) {
        if (this.#overInFlight.has(job.id)) {
          this.#failed(job.id, error); // over at GitHub meanwhile: forgotten, not left waiting for Modal
          return this.pump();
        }
        const next = transition.waitingForModal(current, error.minted, error.message, clock.now()) as Queued;
        this.#set(next);
        log.info({ ...fields, reason: error.message, registrationKept: error.minted !== undefined }, "job waits for Modal");
        this.#record("waiting", next, { reason: error.message, waitingFor: "modal" });
        this.#watchModal();
      } else {
        this.#failed(job.id, error);
      }
      return this.pump();
    }
    const current = this.#jobs.get(job.id) as WithAttempt;
    const retryAt = outcome.kind === "retry-later" ? clock.now() + outcome.delayMs : undefined;
    const next = transition.served(current, outcome, clock.now(), retryAt);
    if (outcome.kind === "started") {
      this.options.capacity.started(job.id, outcome.runnerName);
      this.options.fleetCaps?.started(job.id, outcome.runnerName);
    } else this.#release(job.id);
    this.#set(next);
    this.#record(outcome.kind, next, {
      runnerName: "runnerName" in outcome ? outcome.runnerName : undefined,
      sandboxId: outcome.kind === "started" ? outcome.sandboxId : undefined,
      reason: "reason" in outcome ? outcome.reason : outcome.kind === "not-queued" ? `the job is ${outcome.status}` : undefined,
    });
    switch (outcome.kind) {
      case "started":
        log.info({ ...fields, runner: outcome.runnerName, runnerId: outcome.runnerId, sandboxId: outcome.sandboxId }, "runner started");
        break;
      case "already-served":
        log.info({ ...fields, runner: outcome.runnerName, reason: outcome.reason }, "job already has a runner");
        break;
      case "not-queued":
        log.debug({ ...fields, status: outcome.status }, "job is no longer queued");
        break;
      case "retry-later":
        log.info(
          { ...fields, runner: outcome.runnerName, reason: outcome.reason, retryInMs: outcome.delayMs },
          "will look at the job again",
        );
        // Still active meanwhile: a redelivery must not start a second attempt.
        clock.setTimeout(() => this.#retry(next), outcome.delayMs);
        break;
    }
    this.pump();
  }

  /** The runner is registered: the job's GitHub points are spent, its sandbox is being created. */
  #registered(jobId: number, runnerName: string): void {
    const state = this.#jobs.get(jobId);
    if (state?.state !== "registering") return;
    this.#set(transition.creating(state, runnerName, this.options.clock.now()));
    this.pump();
  }

  /** A retry-later's delay is over: plan the job again (unless it was forgotten meanwhile). */
  #retry(waiting: JobState): void {
    if (this.#stopped || this.#jobs.get(waiting.job.id) !== waiting || !("attempt" in waiting)) return;
    const state: Planning = {
      ...transition.enqueued(waiting.job, waiting.attempt.number, this.options.clock.now(), waiting),
      enqueuedAt: waiting.enqueuedAt,
    };
    this.#set(state);
    void this.#plan(state);
  }

  #failed(jobId: number, error: unknown): void {
    const current = this.#jobs.get(jobId);
    if (!current) return;
    const { reason, retryable } = describeFailure(error);
    if (this.#overInFlight.has(jobId)) {
      this.options.log.info({ ...this.#fields(current.job), reason }, "the job is over; its attempt ended without a runner");
      this.#set(transition.forgotten(current, this.options.clock.now()));
      return;
    }
    const next = transition.failed(current, reason, retryable, this.options.clock.now());
    this.#set(next);
    this.options.log.error(
      { ...this.#fields(current.job), profile: next.state === "finished" ? next.profile : undefined, reason, retryable },
      "could not start a runner for the job",
    );
    this.#record("failed", next, { reason });
  }

  #record(
    kind: DispatchOutcome,
    state: JobState,
    details: Pick<OutcomeRecord, "reason" | "runnerName" | "sandboxId" | "waitingFor">,
  ): void {
    const profile = "attempt" in state ? state.attempt.profile.name : state.state === "finished" ? state.profile : undefined;
    const attempt = "attempt" in state ? state.attempt.number : state.state === "planning" ? state.attemptNumber : undefined;
    this.options.onOutcome?.({
      kind,
      job: state.job,
      at: this.options.clock.now(),
      enqueuedAt: state.enqueuedAt,
      ...(profile !== undefined && { profile }),
      ...(attempt !== undefined && { attempt }),
      ...Object.fromEntries(Object.entries(details).filter(([, value]) => value !== undefined)),
    });
  }
}
