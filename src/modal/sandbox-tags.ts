// Tags on every runner sandbox: which job, runner, repository and installation it
// was made for, and later which job its runner took and when that job finished.
// They let any replica (and the reconciler) tell what a sandbox is doing from
// Modal alone.

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
  /** "org:<org>" or "repo:<owner>/<repo>": where the runner is registered. */
  scope: string;
  /** The runner profile the sandbox was made from. */
  profile: string;
}

/** Added when GitHub reports that the runner took a job (workflow_job.in_progress). */
export interface AssignmentTags {
  assigned_job_id: string;
  assigned_repository: string;
  /** Epoch milliseconds. */
  assigned_at: string;
}

/** Added when the job the runner took has completed (workflow_job.completed). */
export interface FinishedTags {
  /** Epoch milliseconds. */
  finished_at: string;
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
  const repository = origin.repository.toLowerCase();
  const scope = (tags.scope ?? "").toLowerCase();
  return scope === `repo:${repository}` || scope === `org:${repository.split("/")[0]}`;
}
