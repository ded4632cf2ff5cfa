// Policy holds after dispatch. A JIT runner takes any queued job its labels fit, and
// an org-level runner any job of its runner group's repositories, so a runner
// started for an allowed job can be taken by a job that policy refuses (a denied or
// unlisted repository, a public one). When workflow_job.in_progress says one of our
// runners took such a job, its sandbox is stopped at once: the job fails rather
// than run with that profile's environment and secrets. Only a sandbox whose tags
// say it belongs to the event's installation and scope is ever touched.
import PQueue from "p-queue";
import type { Logger } from "pino";
import { describeFailure } from "../lib/errors.js";
import { fullName, type JobRef } from "../model/job.js";
import type { Fleet } from "../modal/fleet.js";
import { belongsTo } from "../model/sandbox-tags.js";
import type { JobPolicy } from "../policy/job-policy.js";

export type GuardOutcome = "allowed" | "stopped" | "foreign" | "absent" | "failed";

export class AssignmentGuard {
  readonly #queue = new PQueue({ concurrency: 8 });

  constructor(
    private readonly deps: {
      policy: JobPolicy;
      fleet: Fleet;
      log: Logger;
      /** The check's outcome; `reason` is policy's refusal when the runner was stopped. */
      onOutcome?: (outcome: GuardOutcome, job: JobRef, detail: { runnerName: string; reason?: string }) => void;
    },
  ) {}

  /** Checks, after the webhook is answered, that the job `runnerName` took is one we serve. */
  check(job: JobRef, runnerName: string): void {
    void this.#queue.add(async () => {
      const { outcome, reason } = await this.#check(job, runnerName);
      this.deps.onOutcome?.(outcome, job, { runnerName, ...(reason ? { reason } : {}) });
    });
  }

  async #check(job: JobRef, runnerName: string): Promise<{ outcome: GuardOutcome; reason?: string }> {
    const { log, fleet } = this.deps;
    const fields = { jobId: job.id, repo: fullName(job.repository), installationId: job.installationId, runner: runnerName };
    try {
      const plan = await this.deps.policy.plan(job);
      if (!("refused" in plan)) return { outcome: "allowed" };
      const sandbox = await fleet.findByName(runnerName);
      if (!sandbox) return { outcome: "absent", reason: plan.refused };
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
      log.error({ ...fields, sandboxId: sandbox.sandboxId, reason: plan.refused }, "stopped a runner that took a job policy refuses");
      return { outcome: "stopped", reason: plan.refused };
    } catch (error) {
      log.error({ ...fields, reason: describeFailure(error).reason }, "could not check the job a runner took against policy");
      return { outcome: "failed" };
    }
  }

  idle(): Promise<void> {
    return this.#queue.onIdle();
  }

  clear(): void {
    this.#queue.clear();
  }
}
