// Serving one queued job: a Just-In-Time runner registration at GitHub, then a Modal
// sandbox that runs it. Safe to run any number of times, on any replica, for the
// same job: the deterministic runner name is taken at most once at GitHub (409) and
// at most once at Modal (ALREADY_EXISTS), and each "taken" answer is examined
// rather than trusted or retried blindly.
import type { Logger } from "pino";
import { describeFailure, httpStatus, isTransientModalError } from "../lib/errors.js";
import { CircuitOpenError } from "../modal/circuit-breaker.js";
import { fullName, type JobRef } from "../model/job.js";
import type { AppOctokit } from "../github/create-octokit-class.js";
import { runnerName } from "../model/runner-name.js";
import { deleteRunner, findRunnerByName, generateJitConfig, type RunnerRegistration } from "../github/runner-registrations.js";
import { scopeKey, type RunnerScope } from "../model/runner-scope.js";
import { type RunnerScopes } from "../github/resolve-runner-scope.js";
import type { RunnerProfile } from "../model/runner-profile.js";
import type { Fleet } from "../modal/fleet.js";
import { JIT_CONFIG_ENV, runnerCommand } from "../modal/runner-command.js";
import { MANAGED_BY, type RunnerSandboxTags } from "../model/sandbox-tags.js";
import { runnerLabelsFor } from "../policy/decide-to-serve.js";
import type { Settings } from "../settings/load-settings.js";

export type ServeOutcome =
  | { kind: "started"; runnerName: string; runnerId: number; sandboxId: string }
  | { kind: "already-served"; runnerName: string; reason: string }
  | { kind: "not-queued"; status: string }
  /** A registration without a sandbox that may be another replica's attempt in progress. */
  | { kind: "retry-later"; runnerName: string; delayMs: number; reason: string };

export interface ServeJobContext {
  octokit: AppOctokit;
  fleet: Fleet;
  scopes: RunnerScopes;
  settings: Pick<Settings, "runner" | "dispatch">;
  /** When a registration without a sandbox was first seen (a cache; a restart just waits again). */
  firstSeenOrphan: (key: string) => number;
  now: () => number;
  log: Logger;
}

const MAX_ROUNDS = 3;

/** What to start: the runner name's attempt number and the sandbox's profile. */
export interface ServeRequest {
  attempt: number;
  profile: RunnerProfile;
  /** A registration an earlier attempt minted but could not start a sandbox for: reused, not minted again. */
  minted?: MintedRunner;
  /**
   * A queued webhook said moments ago that the job is queued, and nothing here has
   * served it: GitHub is not asked again (see still-queued-check.ts).
   */
  knownQueued?: boolean;
  /** Called once the runner is registered (or a kept registration is reused), before the sandbox is created. */
  onRegistered?: (runnerName: string) => void;
}

export interface MintedRunner {
  scope: RunnerScope;
  runner: RunnerRegistration;
  /** Secret: never logged. */
  jitConfig: string;
}

/**
 * Modal is unavailable (its circuit breaker is open, or it failed transiently): the
 * job should wait for it. `minted` is the registration made for the job, if any,
 * kept for the next attempt so an outage does not churn register/delete pairs.
 */
export class ModalUnavailable extends Error {
  override name = "ModalUnavailable";
  constructor(
    readonly minted: MintedRunner | undefined,
    reason: string,
  ) {
    super(`Modal is unavailable: ${reason}`);
  }
}

export async function serveJob(job: JobRef, ctx: ServeJobContext, request: ServeRequest): Promise<ServeOutcome> {
  const { attempt, profile, minted } = request;
  const { octokit, settings } = ctx;
  const { owner, name: repo } = job.repository;

  // A redelivered or late webhook must not start a runner for a job that has
  // started or finished meanwhile (its first runner may already be gone). A fresh
  // queued webhook already said so (knownQueued).
  if (!request.knownQueued) {
    const { data: current } = await octokit.rest.actions.getJobForWorkflowRun({ owner, repo, job_id: job.id });
    if (current.status !== "queued") {
      if (minted) await deleteUnused(minted, job, ctx);
      return { kind: "not-queued", status: current.status };
    }
  }
  if (minted) {
    request.onRegistered?.(minted.runner.name);
    return startSandbox(job, profile, minted, ctx);
  }
  // No registration while Modal creates no sandboxes: it could not be used, and minting
  // then deleting one per attempt spends GitHub's write budget for nothing. When a probe
  // is due, this job's create is the probe.
  const breaker = ctx.fleet.breaker.state();
  if (breaker.state === "open" && !ctx.fleet.breaker.allows()) throw new ModalUnavailable(undefined, breaker.reason);

  const name = runnerName(settings.runner.namePrefix, job.id, attempt);
  const labels = runnerLabelsFor(job, settings.runner.label);

  for (let round = 1; round <= MAX_ROUNDS; round++) {
    let scope: RunnerScope | undefined;
    let registration;
    try {
      scope = await ctx.scopes.resolve(octokit, job);
      registration = await generateJitConfig(octokit, scope, { name, labels, workFolder: settings.runner.workFolder });
    } catch (error) {
      if (httpStatus(error) === 403 && scope?.kind !== "repo" && ctx.scopes.orgLevelRefused(job.installationId)) {
        ctx.log.warn(
          { installationId: job.installationId, org: owner },
          "org-level runners refused (permission not granted); using repository-level runners for this installation",
        );
        continue;
      }
      throw error;
    }
    if (registration.kind === "created") {
      request.onRegistered?.(registration.runner.name);
      return startSandbox(job, profile, { scope, runner: registration.runner, jitConfig: registration.encodedJitConfig }, ctx);
    }
    const verdict = await examineTakenName(scope, name, ctx);
    if (verdict !== "free-again") return verdict;
  }
  throw new Error(`runner name ${name} was still taken after ${MAX_ROUNDS} attempts`);
}

async function startSandbox(job: JobRef, profile: RunnerProfile, minted: MintedRunner, ctx: ServeJobContext): Promise<ServeOutcome> {
  const { fleet } = ctx;
  const { scope, runner, jitConfig } = minted;
  const tags: RunnerSandboxTags = {
    managed_by: MANAGED_BY,
    job_id: String(job.id),
    run_id: String(job.runId),
    runner_id: String(runner.id),
    runner_name: runner.name,
    repository: fullName(job.repository),
    installation_id: String(job.installationId),
    scope: scopeKey(scope),
    profile: profile.name,
  };
  const spec = {
    name: runner.name,
    profile,
    command: runnerCommand({ sudo: profile.sudo }),
    env: { [JIT_CONFIG_ENV]: jitConfig },
    tags: { ...tags },
  };
  try {
    let created = await fleet.create(spec);
    if (created.kind === "exists") {
      const existing = await fleet.findByName(runner.name);
      const existingTags = existing ? await existing.getTags() : {};
      // Our own create that succeeded although its answer was lost (then retried).
      if (existing && existingTags.runner_id === tags.runner_id) {
        return { kind: "started", runnerName: runner.name, runnerId: runner.id, sandboxId: existing.sandboxId };
      }
      // A sandbox left from an earlier registration of this name, which no longer
      // exists (GitHub just let us register it again): its runner cannot connect.
      if (existing) {
        ctx.log.warn(
          { jobId: job.id, sandbox: runner.name, sandboxId: existing.sandboxId, reason: "stale registration" },
          "replacing a sandbox whose runner registration is gone",
        );
        await fleet.terminate(existing);
      }
      created = await fleet.create(spec);
      if (created.kind === "exists") throw new Error(`sandbox ${runner.name} exists and is not ours`);
    }
    return { kind: "started", runnerName: runner.name, runnerId: runner.id, sandboxId: created.sandboxId };
  } catch (error) {
    if (error instanceof CircuitOpenError || isTransientModalError(error))
      throw new ModalUnavailable(minted, describeFailure(error).reason);
    // No sandbox will ever use this registration: free the name for the next attempt.
    await deleteUnused(minted, job, ctx);
    throw error;
  }
}

async function deleteUnused({ scope, runner }: MintedRunner, job: JobRef, ctx: ServeJobContext): Promise<void> {
  await deleteRunner(ctx.octokit, scope, runner.id).catch((cleanupError: unknown) =>
    ctx.log.warn(
      { jobId: job.id, runner: runner.name, reason: describeFailure(cleanupError).reason },
      "could not delete the unused runner registration; the next attempt will replace it",
    ),
  );
}

/**
 * GitHub says the runner name is taken. Already served if the runner is busy or
 * its sandbox runs; a registration that stays idle and sandbox-less past the grace
 * period is a leftover of a failed attempt: delete it so the name is free again.
 */
async function examineTakenName(scope: RunnerScope, name: string, ctx: ServeJobContext): Promise<ServeOutcome | "free-again"> {
  const registration = await findRunnerByName(ctx.octokit, scope, name);
  if (!registration) return "free-again";
  if (registration.busy) return { kind: "already-served", runnerName: name, reason: "its runner is running a job" };
  if (await ctx.fleet.findByName(name)) return { kind: "already-served", runnerName: name, reason: "its sandbox is running" };

  const waited = ctx.now() - ctx.firstSeenOrphan(`${name}#${registration.id}`);
  const grace = ctx.settings.dispatch.registrationGraceMs;
  if (waited < grace) {
    return {
      kind: "retry-later",
      runnerName: name,
      delayMs: grace - waited,
      reason: "registered without a sandbox; another attempt may still be creating it",
    };
  }
  const deleted = await deleteRunner(ctx.octokit, scope, registration.id);
  if (deleted === "busy") return { kind: "already-served", runnerName: name, reason: "its runner is running a job" };
  ctx.log.info(
    { runner: name, runnerId: registration.id, reason: "registered without a sandbox past the grace period" },
    "deleted a leftover runner registration",
  );
  return "free-again";
}
