// The heart of the reconciler: given what a pass observed, which repairs make the
// world right. Pure and deterministic, so two replicas planning from the same world
// choose the same repairs (and the second one's repairs find nothing left to do).
//
// It works from GitHub's runner list (a JIT runner is busy while it runs a job and
// deregisters when the job ends) and Modal's sandbox list, never from what a
// webhook claimed: a forged or misrouted event cannot make it remove a runner.
//
// Rules, in order; a runner is touched by at most one repair, and never while busy:
// 0. Before all: a sandbox of an installation that is gone or suspended (the App's
//    installation list says so) is terminated at once when its runner is idle, or
//    not known busy; a busy one is left to finish its job (its ephemeral runner
//    exits then, and the sandbox with it) until the job's lifetime cap, its
//    profile's timeout, at most. No token is left to ask GitHub whether it is still
//    busy, nor to delete its registration: the registration goes with the runner.
// 1. A sandbox whose registration has been gone for FINISHED_GRACE (its scope
//    listed completely) is terminated: the runner finished or was removed.
// 2. An idle runner whose sandbox is IDLE_RUNNER_TIMEOUT old never took a job
//    (one that did is busy, then gone): it is removed.
// 3. A registration whose sandbox has been gone for REGISTRATION_GRACE is deleted.
// 4. Queued jobs are matched, oldest first, with idle runners that can take them
//    (the runner made for the job first). A job being served is left alone: its
//    dispatch is in flight here or ended after the observation began, or its own
//    registration exists without a sandbox for less than REGISTRATION_GRACE (an
//    attempt creating its sandbox, on any replica). A job left without a runner
//    for UNSERVED_JOB_GRACE is served again, under the next free runner name (at
//    once when its own runner is busy with another job: no webhook is awaited). A job
//    of an installation that is gone or suspended is not served.
// 5. An idle runner left over after matching, whose own job is no longer queued
//    (cancelled, or done by another runner), is removed: one per such job.
// 6. A busy runner's job (from its in_progress event or its run's jobs) that policy
//    has not checked yet is checked, so a lost in_progress event cannot let a
//    refused job run: the AssignmentGuard stops it.
import { oldestFirst, type JobRef } from "../model/job.js";
import { coversLabels } from "../model/labels.js";
import { parseRunnerName, runnerName } from "../model/runner-name.js";
import { scopeServes } from "../model/runner-scope.js";
import { runnerKey, type Observation, type ObservedRunner, type ObservedSandbox } from "./observation.js";

/** GitHub cancels a job that stayed queued for a day. */
export const MAX_QUEUED_AGE_MS = 24 * 3_600_000;

export interface PlanSettings {
  namePrefix: string;
  idleRunnerTimeoutMs: number;
  finishedGraceMs: number;
  registrationGraceMs: number;
  unservedJobGraceMs: number;
  /** The lifetime cap of a job's sandbox, by profile name, and for a profile not listed. */
  lifetimeCapMs: { byProfile: Record<string, number>; otherwise: number };
}

/** The lifetime caps the plan needs: each profile's, and the longest for a sandbox whose profile is unknown. */
export function lifetimeCaps(profiles: Array<{ name: string; timeoutMs: number }>): PlanSettings["lifetimeCapMs"] {
  return {
    byProfile: Object.fromEntries(profiles.map((profile) => [profile.name, profile.timeoutMs])),
    otherwise: Math.max(...profiles.map((profile) => profile.timeoutMs)),
  };
}

export type RepairKind =
  | "serve-unserved-job"
  | "remove-surplus-runner"
  | "reap-never-assigned"
  | "terminate-finished"
  | "delete-orphan-registration"
  | "reap-removed-installation"
  | "check-assignment";

type RemovalKind = Exclude<RepairKind, "serve-unserved-job" | "check-assignment">;

export type Repair =
  | { kind: "serve-unserved-job"; job: JobRef; attempt: number; reason: string }
  | { kind: "check-assignment"; job: JobRef; runnerName: string; reason: string }
  | {
      kind: RemovalKind;
      /** The registration to delete first (absent when it is already gone). */
      runner: ObservedRunner | undefined;
      /** The sandbox to terminate afterwards (absent when it is already gone). */
      sandbox: ObservedSandbox | undefined;
      reason: string;
    };

const seconds = (ms: number) => `${Math.round(ms / 1000)}s`;

function canServe(runner: ObservedRunner, job: JobRef): boolean {
  return scopeServes(runner.scopeKey, job.repository) && coversLabels(runner.labels, job.labels);
}

const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

export function planRepairs(world: Observation, settings: PlanSettings): Repair[] {
  const { now } = world;
  const repairs: Repair[] = [];
  const listed = new Set(world.listedScopes);
  const runners = new Map(world.runners.map((runner) => [runnerKey(runner.scopeKey, runner.name), runner]));
  const runnerOf = (sandbox: ObservedSandbox) => (sandbox.scopeKey ? runners.get(runnerKey(sandbox.scopeKey, sandbox.name)) : undefined);
  const sandboxNames = new Set(world.sandboxes.map((sandbox) => sandbox.name));
  const touched = new Set<string>();
  const remove = (kind: RemovalKind, runner: ObservedRunner | undefined, sandbox: ObservedSandbox | undefined, reason: string) => {
    repairs.push({ kind, runner, sandbox, reason });
    touched.add((sandbox ?? runner)!.name);
  };

  // 0: sandboxes of installations that are gone or suspended.
  const { installations } = world;
  for (const sandbox of [...world.sandboxes].sort(byName)) {
    if (!installations || sandbox.installationId === undefined) continue;
    const installation = installations[sandbox.installationId];
    if (installation && !installation.suspended) continue;
    touched.add(sandbox.name);
    const why = `its installation ${sandbox.installationId} ${installation ? "is suspended" : "was removed"}`;
    const busySince = world.busySince[sandbox.name];
    const cap = settings.lifetimeCapMs.byProfile[sandbox.profile ?? ""] ?? settings.lifetimeCapMs.otherwise;
    if (busySince === undefined) remove("reap-removed-installation", undefined, sandbox, `${why} and its runner is not known busy`);
    else if (now - sandbox.createdAt >= cap)
      remove("reap-removed-installation", undefined, sandbox, `${why} and its job reached the lifetime cap (${seconds(cap)})`);
  }

  // 1 and 2: sandboxes that should no longer run.
  for (const sandbox of [...world.sandboxes].sort(byName)) {
    if (touched.has(sandbox.name)) continue;
    const runner = runnerOf(sandbox);
    if (runner?.busy) continue;
    const scopeListed = sandbox.scopeKey !== undefined && listed.has(sandbox.scopeKey);
    const withoutRunnerFor = now - (world.sandboxWithoutRunnerSince[sandbox.name] ?? now);
    if (scopeListed && !runner && withoutRunnerFor >= settings.finishedGraceMs) {
      remove(
        "terminate-finished",
        undefined,
        sandbox,
        `its runner registration has been gone for ${seconds(withoutRunnerFor)} (the runner finished or was removed)`,
      );
    } else if (runner && now - sandbox.createdAt >= settings.idleRunnerTimeoutMs) {
      remove("reap-never-assigned", runner, sandbox, `took no job in ${seconds(now - sandbox.createdAt)}`);
    }
  }

  // 3: registrations whose sandbox is gone (not those of a job being dispatched
  // here: a job waiting for Modal keeps its registration for its next attempt).
  const dispatching = new Set(world.dispatching);
  for (const runner of [...world.runners].sort(byName)) {
    if (sandboxNames.has(runner.name) || runner.busy) continue;
    const own = parseRunnerName(settings.namePrefix, runner.name);
    if (own && dispatching.has(own.jobId)) continue;
    const since = world.runnerWithoutSandboxSince[runnerKey(runner.scopeKey, runner.name)] ?? now;
    if (now - since >= settings.registrationGraceMs) {
      remove("delete-orphan-registration", runner, undefined, `its sandbox has been gone for ${seconds(now - since)}`);
    }
  }

  // 4: match queued jobs with idle runners; serve the ones left without.
  const idle = world.sandboxes
    .filter((sandbox) => {
      const runner = runnerOf(sandbox);
      return runner && !runner.busy && !touched.has(sandbox.name);
    })
    .sort(byName);
  const gone = (installationId: number) => installations !== undefined && installations[installationId]?.suspended !== false;
  const queued = world.queuedJobs
    .filter((job) => !gone(job.installationId))
    .filter((job) => job.createdAt === undefined || now - Date.parse(job.createdAt) < MAX_QUEUED_AGE_MS)
    .sort(oldestFirst);
  const takenNames = new Set([...sandboxNames, ...world.runners.map((runner) => runner.name)]);
  const beingServed = new Set(dispatching);
  const runnerTaken = new Set<number>();
  for (const runner of world.runners) {
    const own = parseRunnerName(settings.namePrefix, runner.name);
    if (own && runner.busy) runnerTaken.add(own.jobId);
  }
  for (const runner of world.runners) {
    const own = parseRunnerName(settings.namePrefix, runner.name);
    const since = world.runnerWithoutSandboxSince[runnerKey(runner.scopeKey, runner.name)];
    if (own && !runner.busy && since !== undefined && now - since < settings.registrationGraceMs) beingServed.add(own.jobId);
  }
  for (const job of queued) {
    const candidates = idle.filter((sandbox) => canServe(runnerOf(sandbox)!, job));
    const match = candidates.find((sandbox) => sandbox.jobId === job.id) ?? candidates[0];
    if (match) {
      idle.splice(idle.indexOf(match), 1);
      continue;
    }
    if (beingServed.has(job.id)) continue;
    const waited = job.createdAt ? now - Date.parse(job.createdAt) : Infinity;
    // The grace is for a webhook still on its way; a job whose own runner is busy with
    // another job is known to be without one, so it is served at once.
    if (waited < settings.unservedJobGraceMs && !runnerTaken.has(job.id)) continue;
    let attempt = 0;
    while (takenNames.has(runnerName(settings.namePrefix, job.id, attempt))) attempt++;
    const reason = attempt > 0 ? "its runner took another job" : "no runner serves it (webhook lost or dispatch failed)";
    repairs.push({ kind: "serve-unserved-job", job, attempt, reason: `queued ${seconds(waited)} ago; ${reason}` });
  }

  // 5: idle runners nobody needs any more.
  const queuedIds = new Set(world.queuedJobs.map((job) => job.id));
  const scanned = new Set(world.scannedRepositories);
  for (const sandbox of idle) {
    const ownJob = sandbox.jobId ?? parseRunnerName(settings.namePrefix, sandbox.name)?.jobId;
    const ownJobKnown = sandbox.repository !== undefined && scanned.has(sandbox.repository);
    if (ownJob === undefined || !ownJobKnown || queuedIds.has(ownJob)) continue;
    if (now - sandbox.createdAt < settings.unservedJobGraceMs) continue;
    remove("remove-surplus-runner", runnerOf(sandbox), sandbox, `its job ${ownJob} is no longer queued and no queued job needs the runner`);
  }

  // 6: what busy runners run, checked against policy once.
  for (const assignment of [...world.assignments].sort((a, b) => (a.runnerName < b.runnerName ? -1 : 1))) {
    if (assignment.checked) continue;
    repairs.push({
      kind: "check-assignment",
      job: assignment.job,
      runnerName: assignment.runnerName,
      reason: "a busy runner's job no event has checked against policy",
    });
  }
  return repairs;
}
