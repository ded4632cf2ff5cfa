// The "repair" step: one idempotent action per planned repair. Removing a runner
// always deletes its registration first: GitHub refuses while the runner runs a
// job, and then the sandbox is left alone. Only a runner that can no longer take a
// job has its sandbox terminated.
import type { Logger } from "pino";
import type { AppOctokit } from "../github/create-octokit-class.js";
import { fullName, type JobRef } from "../model/job.js";
import { deleteRunner } from "../github/runner-registrations.js";
import { scopeFromKey } from "../model/runner-scope.js";
import type { Fleet } from "../modal/fleet.js";
import type { Repair } from "./plan-repairs.js";

export interface RepairDeps {
  fleet: Fleet;
  octokitFor: (installationId: number) => Promise<AppOctokit>;
  serve: (job: JobRef, attempt: number) => boolean;
  /** Checks the job a busy runner took against policy (the AssignmentGuard stops a refused one). */
  checkAssignment: (job: JobRef, runnerName: string) => void;
  /** A sandbox was terminated (its capacity is free). */
  ended: (sandboxName: string, installationId: number) => void;
  log: Logger;
}

export type RepairResult = "done" | "left-alone";

export async function applyRepair(repair: Repair, deps: RepairDeps): Promise<RepairResult> {
  if (repair.kind === "serve-unserved-job") {
    const { job, attempt, reason } = repair;
    const fields = { repair: repair.kind, jobId: job.id, repo: fullName(job.repository), attempt, reason };
    if (!deps.serve(job, attempt)) {
      deps.log.debug(fields, "reconcile: job is already being served (or waits for capacity) here");
      return "left-alone";
    }
    deps.log.info(fields, "reconcile: serving a queued job");
    return "done";
  }

  if (repair.kind === "check-assignment") {
    const { job, runnerName, reason } = repair;
    deps.log.info(
      { repair: repair.kind, jobId: job.id, repo: fullName(job.repository), runner: runnerName, reason },
      "reconcile: checking the job a runner took",
    );
    deps.checkAssignment(job, runnerName);
    return "done";
  }

  const { runner, sandbox, reason } = repair;
  const fields = {
    repair: repair.kind,
    jobId: sandbox?.jobId,
    runner: runner?.name ?? sandbox?.name,
    runnerId: runner?.id,
    sandbox: sandbox?.name,
    sandboxId: sandbox?.sandboxId,
    reason,
  };
  if (runner) {
    const scope = scopeFromKey(runner.scopeKey)!;
    const deleted = await deleteRunner(await deps.octokitFor(runner.installationId), scope, runner.id);
    if (deleted === "busy") {
      deps.log.info({ ...fields, reason: "the runner took a job meanwhile" }, "reconcile: runner left alone");
      return "left-alone";
    }
  }
  if (sandbox) {
    await deps.fleet.terminate(sandbox.sandboxId);
    if (sandbox.installationId !== undefined) deps.ended(sandbox.name, sandbox.installationId);
  }
  deps.log.info(
    fields,
    runner && sandbox
      ? "reconcile: removed a runner and its sandbox"
      : runner
        ? "reconcile: deleted a runner registration"
        : "reconcile: terminated a sandbox",
  );
  return "done";
}
