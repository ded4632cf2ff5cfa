// The workflow_job router: what each delivery means for our runners. It never waits
// for GitHub or Modal (GitHub gives a delivery 10 s): queued jobs go to the
// dispatcher, what a runner did goes onto its sandbox's tags through a queue, and
// anything a lost or refused delivery leaves behind is the reconciler's.
//
//   queued       → for our label: the dispatcher (which applies the job policy,
//                  and logs and counts a refusal once)
//   in_progress  → our runner took a job: note it on the sandbox (if the sandbox
//                  belongs to this installation and scope)
//   completed    → the job is over: stop waiting for it; our runner's slot frees;
//                  without one of our runners, a runner of ours may now be idle
import type { Logger } from "pino";
import type { Capacity } from "../dispatch/capacity.js";
import type { Dispatcher } from "../dispatch/dispatcher.js";
import { fullName, jobFromWebhook } from "../github/job-ref.js";
import { parseRunnerName } from "../github/runner-name.js";
import { hasLabel } from "../policy/decide-to-serve.js";
import type { Reconciler } from "../reconcile/reconciler.js";
import type { RepositoryDirectory } from "../reconcile/repository-directory.js";
import type { SandboxNotes } from "../reconcile/sandbox-notes.js";

export interface WorkflowJobDeps {
  runnerLabel: string;
  namePrefix: string;
  dispatcher: Dispatcher;
  capacity: Capacity;
  reconciler: Reconciler;
  directory: RepositoryDirectory;
  notes: SandboxNotes;
  log: Logger;
  now: () => number;
}

export function onWorkflowJob(deps: WorkflowJobDeps) {
  const { log, now } = deps;
  return (payload: { action?: string; workflow_job?: { id?: number }; repository?: { full_name?: string } }, deliveryId: string): void => {
    const { action } = payload;
    const fields = { deliveryId, action, jobId: payload.workflow_job?.id, repo: payload.repository?.full_name };
    const parsed = jobFromWebhook(payload);
    if ("rejected" in parsed) {
      log.warn({ ...fields, reason: parsed.rejected }, "webhook rejected");
      return;
    }
    const { job, runnerName } = parsed;
    deps.directory.noteActivity(job.repository, job.installationId, now());
    const ourRunner = runnerName !== undefined && parseRunnerName(deps.namePrefix, runnerName) !== undefined;
    const origin = { installationId: job.installationId, repository: fullName(job.repository) };

    switch (action) {
      case "queued": {
        if (!hasLabel(job.labels, deps.runnerLabel)) {
          log.debug({ ...fields, reason: `labels [${job.labels.join(", ")}] do not include "${deps.runnerLabel}"` }, "job ignored");
          return;
        }
        const queued = deps.dispatcher.enqueue(job);
        log.info({ ...fields, repo: origin.repository, labels: job.labels, duplicate: !queued }, "job queued for a runner");
        return;
      }
      case "in_progress":
        if (ourRunner) deps.notes.record(runnerName, origin, { assigned_job_id: String(job.id), assigned_repository: origin.repository, assigned_at: String(now()) }, fields);
        return;
      case "completed":
        deps.dispatcher.forget(job.id);
        if (ourRunner) {
          // The runner exits after its job: its slot is free for a waiting job.
          deps.capacity.ended(runnerName, job.installationId);
          deps.dispatcher.pump();
          deps.notes.record(runnerName, origin, { finished_at: String(now()) }, fields);
        } else if (hasLabel(job.labels, deps.runnerLabel)) {
          // Cancelled before a runner took it, or done by another runner: ours may now be idle.
          deps.reconciler.soon("a job completed without one of our runners");
        }
        return;
      default:
        log.debug(fields, "workflow_job action not handled");
    }
  };
}
