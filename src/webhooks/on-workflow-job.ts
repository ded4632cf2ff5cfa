// The workflow_job router: what each delivery means for our runners. It never waits
// for GitHub or Modal (GitHub gives a delivery 10 s): queued jobs go to the
// dispatcher, what a runner did goes onto its sandbox's tags through a queue, and
// anything a lost or refused delivery leaves behind is the reconciler's.
//
//   queued       → for our label: the dispatcher (which applies the job policy,
//                  and logs and counts a refusal once)
//   in_progress  → our runner took a job: check the job against policy (a runner
//                  can be taken by any job its labels and runner group fit)
//   completed    → the job is over: stop waiting for it; our runner's slot frees
//                  (only this installation's); without one of our runners, a
//                  runner of ours may now be idle
import type { Logger } from "pino";
import type { Capacity } from "../dispatch/capacity.js";
import type { Dispatcher } from "../dispatch/dispatcher.js";
import type { AssignmentGuard } from "../dispatch/guard-assignments.js";
import { fullName, type JobRef } from "../model/job.js";
import { jobFromWebhook } from "./parse-workflow-job.js";
import { parseRunnerName } from "../model/runner-name.js";
import { hasLabel } from "../policy/decide-to-serve.js";
import type { Reconciler } from "../reconcile/reconciler.js";
import type { RepositoryDirectory } from "../reconcile/repository-directory.js";

export interface WorkflowJobDeps {
  runnerLabel: string;
  namePrefix: string;
  dispatcher: Dispatcher;
  /** Where a sandbox that ended is counted (this replica's count, and a fleet's). */
  capacity: Pick<Capacity, "ended">;
  reconciler: Reconciler;
  directory: RepositoryDirectory;
  guard: AssignmentGuard;
  /** A job with our label was queued or completed, or our runner took a job: for metrics, cost and the job's story. */
  report: (event: RunnerEvent) => void;
  log: Logger;
  now: () => number;
}

export interface RunnerEvent {
  action: "queued" | "in_progress" | "completed";
  job: JobRef;
  /** Our runner (in_progress, completed); undefined for a queued job or one no runner of ours took. */
  runnerName: string | undefined;
  startedAt: string | undefined;
  completedAt: string | undefined;
  htmlUrl: string | undefined;
  conclusion: string | undefined;
}

export function onWorkflowJob(deps: WorkflowJobDeps) {
  const { log, now } = deps;
  return (payload: unknown, deliveryId: string): void => {
    // What a log line can name even when the payload turns out malformed.
    const loose = (payload ?? {}) as { action?: string; workflow_job?: { id?: number }; repository?: { full_name?: string } };
    const { action } = loose;
    const fields = { deliveryId, action, jobId: loose.workflow_job?.id, repo: loose.repository?.full_name };
    const parsed = jobFromWebhook(payload);
    if ("rejected" in parsed) {
      log.warn({ ...fields, reason: parsed.rejected }, "webhook rejected");
      return;
    }
    const { job, runnerName, startedAt, completedAt, htmlUrl, conclusion } = parsed;
    const seen = { job, startedAt, completedAt, htmlUrl, conclusion };
    deps.directory.noteActivity(job.repository, job.installationId, now());
    const ourRunner = runnerName !== undefined && parseRunnerName(deps.namePrefix, runnerName) !== undefined;

    switch (action) {
      case "queued": {
        if (!hasLabel(job.labels, deps.runnerLabel)) {
          log.debug({ ...fields, reason: `labels [${job.labels.join(", ")}] do not include "${deps.runnerLabel}"` }, "job ignored");
          return;
        }
        deps.report({ action, ...seen, runnerName: undefined });
        const queued = deps.dispatcher.enqueue(job, 0, "webhook");
        log.info({ ...fields, repo: fullName(job.repository), labels: job.labels, duplicate: !queued }, "job queued for a runner");
        return;
      }
      case "in_progress":
        if (!ourRunner) return;
        deps.guard.check(job, runnerName);
        deps.report({ action, ...seen, runnerName });
        return;
      case "completed":
        deps.dispatcher.forget(job.id);
        if (ourRunner) {
          // The runner exits after its job: its slot is free for a waiting job.
          deps.capacity.ended(runnerName, job.installationId, fullName(job.repository));
          deps.dispatcher.pump();
          deps.report({ action, ...seen, runnerName });
        } else if (hasLabel(job.labels, deps.runnerLabel)) {
          // Cancelled before a runner took it, or done by another runner: ours may now be idle.
          deps.report({ action, ...seen, runnerName: undefined });
          deps.reconciler.soon("a job completed without one of our runners");
        }
        return;
      default:
        log.debug(fields, "workflow_job action not handled");
    }
  };
}
