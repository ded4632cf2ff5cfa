// Tags on every runner sandbox: which job, runner, repository and installation it
// serves. They let any replica (and the reconciler) tell what a sandbox is for
// from Modal alone.

export const MANAGED_BY = "modal-github-runner";

export interface RunnerSandboxTags {
  managed_by: typeof MANAGED_BY;
  job_id: string;
  run_id: string;
  runner_id: string;
  runner_name: string;
  repository: string;
  installation_id: string;
  /** "org:<org>" or "repo:<owner>/<repo>": where the runner is registered. */
  scope: string;
}
