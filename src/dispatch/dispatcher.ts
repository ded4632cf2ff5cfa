// Runs `serveJob` for queued jobs after the webhook has been answered: one attempt
// at a time per job, concurrency caps, delayed retries when asked for, and one log
// line per outcome. A job waits, oldest first, while a cap is reached or while Modal
// is unavailable (its circuit breaker is open); a registration minted before Modal
// failed stays with the waiting job and is reused. Jobs that could not be served
// are kept for the reconciler (a cache: it also rediscovers them from GitHub).
import PQueue from "p-queue";
import type { Logger } from "pino";
import type { Caps, RunnerProfile } from "../model/runner-profile.js";
import type { JobPlan } from "../policy/job-policy.js";
import { describeFailure } from "../lib/errors.js";
import { BoundedMap, BoundedSet } from "../lib/bounded.js";
import { fullName, oldestFirst, repositoryKey, type JobRef } from "../model/job.js";
import type { CapReservations } from "../replicas/cap-reservations.js";
import { LOCAL_JOB_CLAIMS, type JobClaims } from "../replicas/job-claims.js";
import type { Placement } from "./capacity.js";
import { ModalUnavailable, type MintedRunner, type ServeOutcome, type ServeRequest } from "./serve-job.js";

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
}

export interface DispatcherOptions {
  concurrency: number;
  plan: (job: JobRef) => Promise<JobPlan>;
  serve: (job: JobRef, request: ServeRequest) => Promise<ServeOutcome>;
  /** The caps: counted here (Capacity), or reserved fleet-wide in Redis. */
  capacity: CapReservations;
  /** Who serves a job, fleet-wide (default: this process serves whatever it is given). */
  claims?: JobClaims;
  /** Why Modal cannot take a sandbox now (undefined: it can), and a promise of when it can again. */
  modal: { unavailable(): string | undefined; whenAvailable(): Promise<void> };
  log: Logger;
  now: () => number;
  onOutcome?: (record: OutcomeRecord) => void;
}

export interface UnservedJob {
  job: JobRef;
  reason: string;
  retryable: boolean;
  at: number;
}

interface Waiting {
  job: JobRef;
  attempt: number;
  profile: RunnerProfile;
  caps: Caps;
  placement: Placement;
  /** What it waits for (the log line says it once). */
  for: "capacity" | "modal";
  minted?: MintedRunner;
}

/** Jobs remembered per kind (refused, unserved, recently dispatched): a day of a busy org. */
const MAX_REMEMBERED = 10_000;

export class Dispatcher {
  readonly #queue: PQueue;
  /** Jobs queued, running, waiting for capacity or for a delayed retry. */
  readonly #active = new Map<number, { job: JobRef; enqueuedAt: number; profile?: string }>();
  readonly #waiting = new Map<number, Waiting>();
  readonly #timers = new Map<number, NodeJS.Timeout>();
  readonly #unserved = new BoundedMap<number, UnservedJob>(MAX_REMEMBERED);
  /** Jobs refused by policy, so each is logged and counted once however often it is seen. */
  readonly #refused = new BoundedSet<number>(MAX_REMEMBERED);
  /** When each job's last dispatch ended (epoch ms), so a reconcile pass can tell a stale view. */
  readonly #endedAt = new BoundedMap<number, number>(MAX_REMEMBERED);
  /** Set while a pump is promised for when Modal is available again. */
  #modalWatch: Promise<void> | undefined;
  /** Set while waiting jobs are being given slots (reservations may ask Redis); a pump meanwhile runs again after it. */
  #pumping: Promise<void> | undefined;
  #pumpAgain = false;
  readonly #claims: JobClaims;

  constructor(private readonly options: DispatcherOptions) {
    this.#queue = new PQueue({ concurrency: options.concurrency });
    this.#claims = options.claims ?? LOCAL_JOB_CLAIMS;
  }

  /** Starts serving the job (under runner name attempt `attempt`) unless it is already being served here. */
  enqueue(job: JobRef, attempt = 0): boolean {
    if (this.#active.has(job.id)) return false;
    this.#active.set(job.id, { job, enqueuedAt: this.options.now() });
    void this.#queue.add(() => this.#plan(job, attempt));
    return true;
  }

  /** A slot may have freed, or Modal recovered: start the oldest waiting jobs that fit now. */
  pump(): void {
    if (this.options.modal.unavailable() !== undefined) return;
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = this.#pumpWaiting().finally(() => {
      this.#pumping = undefined;
      if (this.#pumpAgain) {
        this.#pumpAgain = false;
        this.pump();
      }
    });
  }

  async #pumpWaiting(): Promise<void> {
    for (const entry of this.#waitingEntries()) {
      if (this.options.modal.unavailable() !== undefined) return;
      if (!(await this.options.capacity.reserve(entry.job.id, entry.placement, entry.caps)).reserved) continue;
      if (this.#waiting.get(entry.job.id) !== entry) {
        this.options.capacity.release(entry.job.id); // forgotten (completed) while the reservation was asked for
        continue;
      }
      this.#waiting.delete(entry.job.id);
      this.options.log.info({ ...this.#fields(entry.job), profile: entry.profile.name, waitedFor: entry.for }, "starting a waiting job");
      void this.#queue.add(() => this.#serve(entry.job, entry.attempt, entry.profile, entry.placement, entry.caps, entry.minted));
    }
  }

  /** The job is over (completed or cancelled): stop waiting for it. */
  forget(jobId: number): void {
    this.#unserved.delete(jobId);
    if (this.#waiting.delete(jobId)) {
      this.#active.delete(jobId);
      this.#claims.release(jobId);
      this.options.log.info({ jobId }, "job completed while waiting for capacity; dropped from the wait");
    }
  }

  /** Resolves when nothing is queued or running (jobs waiting for capacity or a retry aside). */
  idle(): Promise<void> {
    return this.#queue.onIdle();
  }

  /** Jobs whose dispatch is in flight, waiting, or ended at or after `since`. */
  dispatching(since: number): number[] {
    const ids = new Set(this.#active.keys());
    for (const [id, at] of this.#endedAt) if (at >= since) ids.add(id);
    return [...ids];
  }

  /** Jobs whose last attempt failed, for the reconciler. */
  unserved(): UnservedJob[] {
    return [...this.#unserved.values()];
  }

  /** Jobs waiting for a free slot or for Modal, oldest first. */
  waiting(): JobRef[] {
    return this.#waitingEntries().map((entry) => entry.job);
  }

  /** Jobs this replica is handling, by state, with the profile chosen for them (once known). */
  jobs(): Array<{ job: JobRef; state: "waiting" | "dispatching"; profile: string | undefined }> {
    const waiting = this.#waitingEntries().map((entry) => ({ job: entry.job, state: "waiting" as const, profile: entry.profile.name }));
    const dispatching = [...this.#active.values()]
      .filter((active) => !this.#waiting.has(active.job.id))
      .map((active) => ({ job: active.job, state: "dispatching" as const, profile: active.profile }));
    return [...waiting, ...dispatching];
  }

  #waitingEntries(): Waiting[] {
    return [...this.#waiting.values()].sort((a, b) => oldestFirst(a.job, b.job));
  }

  stop(): void {
    this.#claims.stop();
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    this.#queue.clear();
  }

  #fields(job: JobRef) {
    return { jobId: job.id, repo: fullName(job.repository), installationId: job.installationId };
  }

  /** Applies policy, then waits for capacity or serves. */
  async #plan(job: JobRef, attempt: number): Promise<void> {
    const { log, capacity } = this.options;
    // Whoever dispatches a job claims it first: another replica's claim means it is being served there.
    if (!(await this.#claims.claim(job.id))) {
      log.debug(this.#fields(job), "job is being served by another replica");
      this.#record("already-served", job, { reason: "claimed by another replica" });
      this.#active.delete(job.id);
      return;
    }
    let plan: JobPlan;
    try {
      plan = await this.options.plan(job);
    } catch (error) {
      return this.#failed(job, error);
    }
    if ("refused" in plan) {
      const first = !this.#refused.has(job.id);
      this.#refused.add(job.id);
      if (first) {
        log.info({ ...this.#fields(job), reason: plan.refused }, "job refused by policy");
        this.#record("refused", job, { reason: plan.refused });
      }
      this.#active.delete(job.id);
      this.#claims.release(job.id);
      return;
    }
    const placement = { installationId: job.installationId, repository: repositoryKey(job.repository), profile: plan.profile.name };
    const reservation = await capacity.reserve(job.id, placement, plan.caps);
    if (!reservation.reserved) {
      this.#waiting.set(job.id, { job, attempt, profile: plan.profile, caps: plan.caps, placement, for: "capacity" });
      log.info({ ...this.#fields(job), profile: plan.profile.name, cap: reservation.cap }, "job waits for capacity");
      this.#record("waiting", job, { profile: plan.profile.name, reason: `cap reached: ${reservation.cap}` });
      return;
    }
    await this.#serve(job, attempt, plan.profile, placement, plan.caps);
  }

  async #serve(
    job: JobRef,
    attempt: number,
    profile: RunnerProfile,
    placement: Placement,
    caps: Caps,
    minted?: MintedRunner,
  ): Promise<void> {
    const { log, capacity } = this.options;
    const fields = { ...this.#fields(job), profile: profile.name };
    const unavailable = this.options.modal.unavailable();
    if (unavailable !== undefined) return this.#waitForModal({ job, attempt, profile, caps, placement, for: "modal", minted }, unavailable);
    let outcome: ServeOutcome;
    try {
      outcome = await this.options.serve(job, { attempt, profile, minted });
    } catch (error) {
      capacity.release(job.id);
      if (error instanceof ModalUnavailable)
        return this.#waitForModal({ job, attempt, profile, caps, placement, for: "modal", minted: error.minted }, error.message);
      this.pump();
      return this.#failed(job, error, profile.name);
    }
    this.#unserved.delete(job.id);
    this.#record(outcome.kind, job, {
      profile: profile.name,
      runnerName: "runnerName" in outcome ? outcome.runnerName : undefined,
      sandboxId: outcome.kind === "started" ? outcome.sandboxId : undefined,
      reason: "reason" in outcome ? outcome.reason : outcome.kind === "not-queued" ? `the job is ${outcome.status}` : undefined,
    });
    if (outcome.kind === "started") capacity.started(job.id, outcome.runnerName);
    else {
      capacity.release(job.id);
      this.pump();
    }
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
      case "retry-later": {
        log.info(
          { ...fields, runner: outcome.runnerName, reason: outcome.reason, retryInMs: outcome.delayMs },
          "will look at the job again",
        );
        const timer = setTimeout(() => {
          this.#timers.delete(job.id);
          void this.#queue.add(() => this.#plan(job, attempt));
        }, outcome.delayMs);
        timer.unref();
        this.#timers.set(job.id, timer);
        return; // still active: a redelivery meanwhile must not start a second attempt
      }
    }
    this.#ended(job.id);
  }

  /** The job waits until Modal answers again; one pump is promised for then. */
  #waitForModal(entry: Waiting, reason: string): void {
    this.options.capacity.release(entry.job.id);
    const already = this.#waiting.get(entry.job.id)?.for === "modal";
    this.#waiting.set(entry.job.id, entry);
    if (!already) {
      this.options.log.info(
        { ...this.#fields(entry.job), profile: entry.profile.name, reason, registrationKept: entry.minted !== undefined },
        "job waits for Modal",
      );
      this.#record("waiting", entry.job, { profile: entry.profile.name, reason });
    }
    this.#modalWatch ??= this.options.modal.whenAvailable().then(() => {
      this.#modalWatch = undefined;
      this.pump();
    });
  }

  #ended(jobId: number): void {
    this.#active.delete(jobId);
    this.#claims.release(jobId);
    this.#endedAt.set(jobId, this.options.now());
  }

  #failed(job: JobRef, error: unknown, profile?: string): void {
    const { reason, retryable } = describeFailure(error);
    this.#unserved.set(job.id, { job, reason, retryable, at: this.options.now() });
    this.options.log.error({ ...this.#fields(job), profile, reason, retryable }, "could not start a runner for the job");
    this.#record("failed", job, { profile, reason });
    this.#ended(job.id);
  }

  #record(kind: DispatchOutcome, job: JobRef, details: Pick<OutcomeRecord, "profile" | "reason" | "runnerName" | "sandboxId">): void {
    const active = this.#active.get(job.id);
    if (active && details.profile) active.profile = details.profile;
    const now = this.options.now();
    this.options.onOutcome?.({ kind, job, at: now, enqueuedAt: active?.enqueuedAt ?? now, ...details });
  }
}
