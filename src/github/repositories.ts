// Reading repositories and their queued jobs: what the reconciler sweeps to find
// jobs whose webhook never arrived.
import type { AppOctokit } from "./create-octokit-class.js";
import type { JobRef, RepositoryRef } from "../model/job.js";

interface RepositoryData {
  id: number;
  name: string;
  private: boolean;
  visibility?: string;
  owner: { login: string; type?: string };
}

export function toRepositoryRef(data: RepositoryData): RepositoryRef {
  return {
    id: data.id,
    owner: data.owner.login,
    name: data.name,
    ownerType: data.owner.type === "Organization" ? "Organization" : "User",
    private: data.private,
    visibility: data.visibility ?? (data.private ? "private" : "public"),
  };
}

export async function getRepository(octokit: AppOctokit, owner: string, name: string): Promise<RepositoryRef> {
  const { data } = await octokit.rest.repos.get({ owner, repo: name });
  return toRepositoryRef(data);
}

/** Every repository an installation can see. */
export async function listInstallationRepositories(octokit: AppOctokit): Promise<RepositoryRef[]> {
  const repositories = await octokit.paginate(octokit.rest.apps.listReposAccessibleToInstallation, { per_page: 100 });
  return repositories.map(toRepositoryRef);
}

export interface ActiveRun {
  id: number;
  status: "queued" | "in_progress";
  createdAt: string;
  /** Changes whenever one of the run's jobs is created, starts or finishes. */
  updatedAt: string;
}

/**
 * Runs of a repository created after `since` that may hold queued jobs: queued runs
 * and runs already in progress (a later job of a running workflow, a matrix beyond
 * max-parallel). One listing per status asked for (both by default).
 */
export async function listActiveRuns(
  octokit: AppOctokit,
  repository: RepositoryRef,
  since: Date,
  statuses: ReadonlyArray<ActiveRun["status"]> = ["queued", "in_progress"],
): Promise<ActiveRun[]> {
  const { owner, name: repo } = repository;
  const created = `>=${since.toISOString().replace(/\.\d{3}Z$/, "Z")}`;
  const runs = await Promise.all(
    statuses.map(async (status) =>
      (await octokit.paginate(octokit.rest.actions.listWorkflowRunsForRepo, { owner, repo, status, created, per_page: 100 })).map(
        (run) => ({ id: run.id, status, createdAt: run.created_at, updatedAt: run.updated_at }),
      ),
    ),
  );
  return runs.flat();
}

/** A job of a run as the reconciler reads it: which runner (if any) took it. */
export interface RunJob {
  job: JobRef;
  status: string;
  runnerName: string | undefined;
}

/** The latest attempt's jobs of one run. */
export async function listJobsOfRun(
  octokit: AppOctokit,
  repository: RepositoryRef,
  runId: number,
  installationId: number,
): Promise<RunJob[]> {
  const { owner, name: repo } = repository;
  const jobs = await octokit.paginate(octokit.rest.actions.listJobsForWorkflowRun, {
    owner,
    repo,
    run_id: runId,
    filter: "latest",
    per_page: 100,
  });
  return jobs.map((job) => ({
    job: { id: job.id, runId: job.run_id, name: job.name, labels: job.labels, createdAt: job.created_at, repository, installationId },
    status: job.status,
    runnerName: job.runner_name ?? undefined,
  }));
}

/** The queued jobs of one run. */
export async function listQueuedJobsOfRun(
  octokit: AppOctokit,
  repository: RepositoryRef,
  runId: number,
  installationId: number,
): Promise<JobRef[]> {
  return (await listJobsOfRun(octokit, repository, runId, installationId)).filter((run) => run.status === "queued").map((run) => run.job);
}
