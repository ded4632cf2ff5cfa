// Whether the App serves a queued job at all. Pure: the same job and policy always
// give the same answer, so it is tested with a table.
import type { Result } from "../lib/result.js";
import { fullName, type JobRef } from "../model/job.js";
import { hasLabel, missingLabel } from "../model/labels.js";
import { matchesAny } from "../model/repository-patterns.js";

export interface ServePolicy {
  runnerLabel: string;
  allowPublicRepos: boolean;
  allowedRepositories: string[];
  deniedRepositories: string[];
}

/** A "no" says whether the job is `notOurs` (for other runners: nothing to report above debug). */
export type ServeDecision = Result<object, { notOurs: boolean }>;

export function decideToServe(job: JobRef, policy: ServePolicy): ServeDecision {
  const notOurs = missingLabel(job.labels, policy.runnerLabel);
  if (notOurs !== undefined) return { ok: false, notOurs: true, reason: notOurs };
  const repo = fullName(job.repository);
  if (matchesAny(repo, policy.deniedRepositories)) {
    return { ok: false, notOurs: false, reason: `${repo} is in DENIED_REPOSITORIES` };
  }
  if (policy.allowedRepositories.length > 0 && !matchesAny(repo, policy.allowedRepositories)) {
    return { ok: false, notOurs: false, reason: `${repo} is not in ALLOWED_REPOSITORIES` };
  }
  if (job.repository.visibility === "public" && !policy.allowPublicRepos) {
    return {
      ok: false,
      notOurs: false,
      reason: `${repo} is public and ALLOW_PUBLIC_REPOS is off (anyone could run code on the runner through a pull request)`,
    };
  }
  return { ok: true };
}

/** The labels to register the runner with: every label the job asked for (a JIT runner has no others). */
export function runnerLabelsFor(job: JobRef, runnerLabel: string): string[] {
  const labels: string[] = [];
  for (const label of [...job.labels, runnerLabel]) {
    if (!hasLabel(labels, label)) labels.push(label);
  }
  return labels;
}
