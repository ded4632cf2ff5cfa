// Policy holds after dispatch. A JIT runner takes any queued job its labels fit, and
// an org-level runner any job of its runner group's repositories, so a runner
// started for an allowed job can be taken by a job that policy refuses (a denied or
// unlisted repository, a public one). When workflow_job.in_progress says one of our
// runners took such a job, its sandbox is stopped: the job fails rather than run with
// that profile's environment and secrets. Only a sandbox whose tags say it belongs to
// the event's installation and scope is ever touched.
//
// A refusal must hold through faults (issue 14): a check that cannot finish (Modal or
// GitHub failing) is tried again with backoff until it reaches a verdict: allowed,
// stopped, foreign, or absent (the sandbox is gone: stopped, or its job is over and
// the ephemeral runner exited). Never a single attempt. check() is idempotent, so the
// webhook and every reconcile pass may ask about the same runner as often as they like.
import PQueue from "p-queue";
import type { Logger } from "pino";
import { BoundedMap } from "../lib/bounded.js";
import { systemClock, type Clock } from "../lib/clock.js";
import { describeFailure } from "../lib/errors.js";
import { fullName, type JobRef } from "../model/job.js";
import type { Fleet } from "../modal/fleet.js";
import { belongsTo } from "../model/sandbox-tags.js";
import type { JobPolicy } from "../policy/job-policy.js";

export type GuardOutcome = "allowed" | "stopped" | "foreign" | "absent" | "failed";

export interface GuardRetry {
  /** Wait after the first failed attempt; doubles after each… */
  baseMs: number;
  /** …up to this. */
  maxMs: number;
}

export const DEFAULT_GUARD_RETRY: GuardRetry = { baseMs: 500, maxMs: 30_000 };

/** Runners whose check is undecided at once: at most one per sandbox of ours, so this is never reached in practice. */
const MAX_PENDING = 10_000;

interface Pending {
  failures: number;
  timer: unknown;
}

export class AssignmentGuard {
  readonly #queue = new PQueue({ concurrency: 8 });
  /** Checks without a verdict yet, by runner and job: one retry loop each, however often asked. */
  readonly #pending = new BoundedMap<string, Pending>(MAX_PENDING);
  readonly #clock: Clock;
  readonly #retry: GuardRetry;

  constructor(
    private readonly deps: {
      policy: JobPolicy;
      fleet: Fleet;
      log: Logger;
      /** Each attempt's outcome ("failed" attempts are retried). */
      onOutcome?: (outcome: GuardOutcome, job: JobRef, detail: { runnerName: string; reason?: string }) => void;
      clock?: Clock;
      retry?: GuardRetry;
    },
  ) {
    this.#clock = deps.clock ?? systemClock;
    this.#retry = deps.retry ?? DEFAULT_GUARD_RETRY;
  }

  /**
   * Checks, after the webhook is answered, that the job `runnerName` took is one we
   * serve, and stops the runner's sandbox if not, retrying until a verdict. Idempotent:
   * a check already under way or waiting to retry for this runner and job is not doubled.
   */
  check(job: JobRef, runnerName: string): void {
    const key = `${runnerName}#${job.id}`;
    if (this.#pending.has(key)) return;
    this.#pending.set(key, { failures: 0, timer: undefined });
    this.#attempt(key, job, runnerName);
  }

  /** Checks without a verdict yet (under way or waiting to retry). */
  get pending(): number {
    return this.#pending.size;
  }

  #attempt(key: string, job: JobRef, runnerName: string): void {
    void this.#queue.add(async () => {
      const { outcome, reason } = await this.#check(job, runnerName);
      const entry = this.#pending.get(key);
      if (!entry) return; // cleared meanwhile
      this.deps.onOutcome?.(outcome, job, { runnerName, ...(reason ? { reason } : {}) });
      if (outcome !== "failed") {
        this.#pending.delete(key);
        return;
      }
      entry.failures++;
      const delayMs = Math.min(this.#retry.maxMs, this.#retry.baseMs * 2 ** (entry.failures - 1));
      entry.timer = this.#clock.setTimeout(() => {
        entry.timer = undefined;
        if (this.#pending.get(key) === entry) this.#attempt(key, job, runnerName);
      }, delayMs);
    });
  }

  async #check(job: JobRef, runnerName: string): Promise<{ outcome: GuardOutcome; reason?: string }> {
    const { log, fleet } = this.deps;
    const fields = { jobId: job.id, repo: fullName(job.repository), installationId: job.installationId, runner: runnerName };
    try {
      const plan = await this.deps.policy.plan(job);
      if (plan.ok) return { outcome: "allowed" };
      const sandbox = await fleet.findByName(runnerName);
      if (!sandbox) return { outcome: "absent", reason: plan.reason };
      if (
        !belongsTo(await fleet.getTags(sandbox.sandboxId), { installationId: job.installationId, repository: fullName(job.repository) })
      ) {
        log.warn(
          { ...fields, reason: "the sandbox belongs to another installation or scope" },
          "event about a runner that is not this installation's; ignored",
        );
        return { outcome: "foreign" };
      }
      await fleet.terminate(sandbox);
      log.error({ ...fields, sandboxId: sandbox.sandboxId, reason: plan.reason }, "stopped a runner that took a job policy refuses");
      return { outcome: "stopped", reason: plan.reason };
    } catch (error) {
      const failures = this.#pending.get(`${runnerName}#${job.id}`)?.failures ?? 0;
      // One error line when it starts failing; the retries after it at warn.
      log[failures === 0 ? "error" : "warn"](
        { ...fields, reason: describeFailure(error).reason, attempt: failures + 1 },
        "could not check the job a runner took against policy; will try again",
      );
      return { outcome: "failed" };
    }
  }

  /** Resolves when no attempt is running (retries waiting on their timer aside). */
  idle(): Promise<void> {
    return this.#queue.onIdle();
  }

  clear(): void {
    for (const entry of this.#pending.values()) if (entry.timer !== undefined) this.#clock.clearTimeout(entry.timer);
    this.#pending.clear();
    this.#queue.clear();
  }
}
