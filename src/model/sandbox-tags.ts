// Tags on every runner sandbox: which job, runner, repository, installation and
// profile it was made for. Written once, at creation: they let any replica (and the
// reconciler) tell whose a sandbox is from Modal's list alone. What its runner is
// doing comes from GitHub (a runner is busy while it runs a job).

import { scopeServes } from "./runner-scope.js";

export const MANAGED_BY = "modal-github-runner";

export interface RunnerSandboxTags {
  managed_by: typeof MANAGED_BY;
  /** The job the sandbox was created for. */
  job_id: string;
  run_id: string;
  runner_id: string;
  runner_name: string;
  repository: string;
  installation_id: string;
  /** "org:<org>" or "repo:<owner>/<repo>" (model/runner-scope.ts): where the runner is registered. */
  scope: string;
  /** The runner profile the sandbox was made from. */
  profile: string;
}

/** Where a webhook event comes from: the installation and repository it names. */
export interface EventOrigin {
  installationId: number;
  /** owner/name */
  repository: string;
}

/**
 * Whether a sandbox (by its tags) may be affected by an event from `origin`: the
 * same installation, and a runner scope that contains the event's repository.
 */
export function belongsTo(tags: Record<string, string>, origin: EventOrigin): boolean {
  if (tags.managed_by !== MANAGED_BY || tags.installation_id !== String(origin.installationId)) return false;
  return tags.scope !== undefined && scopeServes(tags.scope, origin.repository);
}
