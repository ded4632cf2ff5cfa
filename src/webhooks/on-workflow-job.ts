// The workflow_job router: what each delivery means for our runners. It never waits
// for GitHub or Modal (GitHub gives a delivery 10 s): queued jobs go to the
// dispatcher, what a runner did goes onto its sandbox's tags through a queue, and
// anything a lost or refused delivery leaves behind is the reconciler's.
//
//   queued       → for our label: the dispatcher (which applies the job policy,
//                  and logs and counts a refusal once)
//   in_progress  → our runner took a job: note which (the reconciler's
//                  assignments), check the job against policy (a runner can be
//                  taken by any job its labels and runner group fit); if it was
//                  made for another job, that job is left without one
//   completed    → the job is over: stop waiting for it; our runner's sandbox
//                  ended (only this installation's); without one of our runners,
//                  a runner of ours may now be idle
import type { Logger } from "pino";
import type { Dispatcher } from "../dispatch/dispatcher.js";
import type { AssignmentGuard } from "../dispatch/guard-assignments.js";
import { fullName, type JobRef } from "../model/job.js";
import { jobFromWebhook, type WorkflowJobSeen } from "./parse-workflow-job.js";
import { parseRunnerName } from "../model/runner-name.js";
import { hasLabel, missingLabel } from "../model/labels.js";
import type { Reconciler } from "../reconcile/reconciler.js";
import type { RepositoryDirectory } from "../reconcile/repository-directory.js";

export interface WorkflowJobDeps {
  runnerLabel: string;
  namePrefix: string;
  dispatcher: Dispatcher;
  /** A sandbox ended: the one path that frees its slot, counts its cost and lets a waiting job start. */
  sandboxEnded: (name: string, installationId: number, repository?: string) => void;
  reconciler: Pick<Reconciler, "assignments" | "soon">;
  directory: RepositoryDirectory;
  guard: AssignmentGuard;
  /**
   * Our runner `runnerName`, made for job `jobId`, took job `took` (as the event says):
   * job `jobId` needs a runner again (under the next name), now rather than at the
   * reconciler's grace.
   */
  runnerTaken: (jobId: number, runnerName: string, took: JobRef) => void;
  /** A job with our label was queued or completed, or our runner took a job: for metrics and the job's story. */
  report: (event: RunnerEvent) => void;
  log: Logger;
  now: () => number;
}

/** What a delivery said, where `runnerName` is ours only: undefined for a queued job or one no runner of ours took. */
export interface RunnerEvent extends WorkflowJobSeen {
  action: "queued" | "in_progress" | "completed";
}

export function onWorkflowJob(deps: WorkflowJobDeps) {
  const { log, now } = deps;
  return (payload: unknown, deliveryId: string): void => {
    // What a log line can name even when the payload turns out malformed.
    const loose = (payload ?? {}) as { action?: string; workflow_job?: { id?: number }; repository?: { full_name?: string } };
    const { action } = loose;
    const fields = { deliveryId, action, jobId: loose.workflow_job?.id, repo: loose.repository?.full_name };
    const parsed = jobFromWebhook(payload);
    if (!parsed.ok) {
      log.warn({ ...fields, reason: parsed.reason }, "webhook rejected");
      return;
    }
    const { job, runnerName, startedAt, completedAt, htmlUrl, conclusion } = parsed;
    const seen = { job, startedAt, completedAt, htmlUrl, conclusion };
    deps.directory.noteActivity(job.repository, job.installationId, now());
    const own = runnerName === undefined ? undefined : parseRunnerName(deps.namePrefix, runnerName);
    const ourRunner = runnerName !== undefined && own !== undefined;

    switch (action) {
      case "queued": {
        const notOurs = missingLabel(job.labels, deps.runnerLabel);
        if (notOurs !== undefined) {
          log.debug({ ...fields, reason: notOurs }, "job ignored");
          return;
        }
        deps.report({ action, ...seen, runnerName: undefined });
        const queued = deps.dispatcher.enqueue(job, 0, "webhook");
        log.info({ ...fields, repo: fullName(job.repository), labels: job.labels, duplicate: !queued }, "job queued for a runner");
        return;
      }
      case "in_progress": {
        if (!ourRunner) return;
        // The event's handler checks the job against policy; a pass checks only what no event told.
        const at = startedAt ? Date.parse(startedAt) : now();
        deps.reconciler.assignments.took(runnerName, job, Number.isFinite(at) ? at : now(), now(), true);
        deps.guard.check(job, runnerName);
        deps.report({ action, ...seen, runnerName });
        if (own.jobId !== job.id) deps.runnerTaken(own.jobId, runnerName, job);
        return;
      }
      case "completed":
        deps.dispatcher.forget(job.id);
        if (ourRunner) {
          deps.reconciler.assignments.ended(runnerName);
          deps.report({ action, ...seen, runnerName });
          // The runner exits after its job: its sandbox ends, its slot is free for a waiting job.
          deps.sandboxEnded(runnerName, job.installationId, fullName(job.repository));
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
