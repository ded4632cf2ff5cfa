// Runs `serveJob` for queued jobs after the webhook has been answered: bounded
// concurrency, one attempt at a time per job, delayed retries when asked for, and
// one log line per outcome. Jobs that could not be served are kept for the
// reconciler (a cache: the reconciler also rediscovers them from GitHub).
import PQueue from "p-queue";
import type { Logger } from "pino";
import { describeFailure } from "../errors.js";
import { fullName, type JobRef } from "../github/job-ref.js";
import type { ServeOutcome } from "./serve-job.js";

export interface DispatcherOptions {
  concurrency: number;
  serve: (job: JobRef, attempt: number) => Promise<ServeOutcome>;
  log: Logger;
  onOutcome?: (outcome: ServeOutcome["kind"] | "failed", job: JobRef) => void;
}

export interface UnservedJob {
  job: JobRef;
  reason: string;
  retryable: boolean;
  at: number;
}

export class Dispatcher {
  readonly #queue: PQueue;
  /** Jobs queued, running or waiting for a delayed retry. */
  readonly #active = new Set<number>();
  readonly #timers = new Map<number, NodeJS.Timeout>();
  readonly #unserved = new Map<number, UnservedJob>();

  constructor(private readonly options: DispatcherOptions) {
    this.#queue = new PQueue({ concurrency: options.concurrency });
  }

  /** Starts serving the job (under runner name attempt `attempt`) unless it is already being served here. */
  enqueue(job: JobRef, attempt = 0): boolean {
    if (this.#active.has(job.id)) return false;
    this.#active.add(job.id);
    void this.#queue.add(() => this.#run(job, attempt));
    return true;
  }

  /** Resolves when nothing is queued or running (delayed retries aside). */
  idle(): Promise<void> {
    return this.#queue.onIdle();
  }

  /** Jobs whose last attempt failed, for the reconciler. */
  unserved(): UnservedJob[] {
    return [...this.#unserved.values()];
  }

  /** Serving is queued, running or waiting for a retry here. */
  isActive(jobId: number): boolean {
    return this.#active.has(jobId);
  }

  /** The job is over (completed): nothing more to do for it here. */
  forget(jobId: number): void {
    this.#unserved.delete(jobId);
  }

  get pending(): number {
    return this.#queue.size + this.#queue.pending;
  }

  stop(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    this.#queue.clear();
  }

  async #run(job: JobRef, attempt: number): Promise<void> {
    const fields = { jobId: job.id, repo: fullName(job.repository), installationId: job.installationId };
    const { log, onOutcome } = this.options;
    let outcome: ServeOutcome;
    try {
      outcome = await this.options.serve(job, attempt);
    } catch (error) {
      const { reason, retryable } = describeFailure(error);
      this.#active.delete(job.id);
      this.#unserved.set(job.id, { job, reason, retryable, at: Date.now() });
      log.error({ ...fields, reason, retryable }, "could not start a runner for the job");
      onOutcome?.("failed", job);
      return;
    }
    this.#unserved.delete(job.id);
    onOutcome?.(outcome.kind, job);
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
        log.info({ ...fields, runner: outcome.runnerName, reason: outcome.reason, retryInMs: outcome.delayMs }, "will look at the job again");
        const timer = setTimeout(() => {
          this.#timers.delete(job.id);
          void this.#queue.add(() => this.#run(job, attempt));
        }, outcome.delayMs);
        timer.unref();
        this.#timers.set(job.id, timer);
        return; // still active: a redelivery meanwhile must not start a second attempt
      }
    }
    this.#active.delete(job.id);
  }
}
