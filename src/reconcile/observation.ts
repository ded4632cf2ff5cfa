// What one reconcile pass saw of the world: our sandboxes on Modal, our runner
// registrations and the queued jobs at GitHub. Plain data, so that deciding what to
// repair is a pure function of it.
import type { JobRef } from "../model/job.js";
import type { ListedSandbox } from "../modal/fleet.js";
import { canonicalScopeKey } from "../model/runner-scope.js";

export interface ObservedSandbox {
  sandboxId: string;
  name: string;
  /** Epoch milliseconds. */
  createdAt: number;
  /** The job it was created for (from its tags). */
  jobId: number | undefined;
  repository: string | undefined;
  installationId: number | undefined;
  scopeKey: string | undefined;
  profile: string | undefined;
}

export interface ObservedRunner {
  id: number;
  name: string;
  status: string;
  busy: boolean;
  labels: string[];
  scopeKey: string;
  installationId: number;
}

export interface Observation {
  now: number;
  sandboxes: ObservedSandbox[];
  /** Our registrations (by name) in the scopes listed. */
  runners: ObservedRunner[];
  /** Scopes whose registrations were listed completely this pass. */
  listedScopes: string[];
  /** Queued jobs that carry the runner label and that policy allows. */
  queuedJobs: JobRef[];
  /** Repositories whose queued jobs were listed completely this pass. */
  scannedRepositories: string[];
  /** Since when (epoch ms) each registration, by "<scope> <name>", has been seen without a sandbox. */
  runnerWithoutSandboxSince: Record<string, number>;
  /** Since when each sandbox, by name, has been seen without a registration. */
  sandboxWithoutRunnerSince: Record<string, number>;
  /** Jobs whose dispatch is in flight here, or ended after the observation began (asked just before planning). */
  dispatching: number[];
  /**
   * The App's installations by id, and whether each is suspended (GET /app/installations);
   * undefined when the pass did not read them, or could not: then nothing is decided about them.
   */
  installations: Record<number, { suspended: boolean }> | undefined;
  /** The job each busy runner of ours runs, where known, and whether policy has checked it. */
  assignments: ObservedAssignment[];
  /** Since when (epoch ms) each of our runners, by name, has been known busy. */
  busySince: Record<string, number>;
}

/** What a pass saw of GitHub and Modal: an Observation before the dispatcher is asked what it is serving. */
export type ObservedWorld = Omit<Observation, "dispatching">;

export interface ObservedAssignment {
  runnerName: string;
  job: JobRef;
  checked: boolean;
}

function numberTag(tags: Record<string, string>, name: string): number | undefined {
  const value = tags[name];
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

export function toObservedSandbox(listed: ListedSandbox): ObservedSandbox {
  const { tags } = listed;
  return {
    sandboxId: listed.sandboxId,
    name: listed.name,
    createdAt: listed.createdAt,
    jobId: numberTag(tags, "job_id"),
    repository: tags.repository,
    installationId: numberTag(tags, "installation_id"),
    scopeKey: tags.scope === undefined ? undefined : canonicalScopeKey(tags.scope),
    profile: tags.profile,
  };
}

export function runnerKey(scopeKey: string, name: string): string {
  return `${scopeKey} ${name}`;
}
