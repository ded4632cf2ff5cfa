// Workflow runs and their jobs, read the way the App reads them: a job by id, the
// runs of a repository with GitHub's filters (branch, event, status, created), a
// run's jobs (latest attempt, or all with filter=all).
import type { FakeGitHub } from "../fake-github.js";
import { matchesCreated } from "./created-filter.js";
import { jobObject, repositoryObject, runObject, runStatus, userObject } from "./shapes.js";
import { actionsRead, HttpError, type Route } from "./route-kit.js";
import type { FakeJob, FakeRepository, WorkflowRun } from "./types.js";

export function registerActionsRoutes(gh: FakeGitHub, route: Route): void {
  // --- Actions: jobs and runs
  route("GET", "/repos/{owner}/{repo}/actions/jobs/{job_id}", {
    auth: "installation",
    permission: actionsRead,
    fn: (ctx) => {
      const r = gh.repoOf(ctx.params.owner as string, ctx.params.repo as string);
      const job = gh.jobsById.get(Number(ctx.params.job_id));
      if (!job || job.owner !== r.owner || job.repo !== r.name) throw new HttpError(404, "Not Found");
      return { status: 200, body: jobObject(gh.urls, job) };
    },
  });

  const runsOf = (r: FakeRepository): WorkflowRun[] =>
    [...gh.runsById.values()].filter((run) => run.owner === r.owner && run.repo === r.name);
  const jobsOfRun = (runId: number): FakeJob[] => [...gh.jobsById.values()].filter((j) => j.runId === runId).sort((a, b) => a.id - b.id);
  const runJson = (r: FakeRepository, run: WorkflowRun): Record<string, unknown> =>
    runObject(
      gh.urls,
      run,
      jobsOfRun(run.id).filter((j) => j.runAttempt === run.runAttempt),
      repositoryObject(gh.urls, r, gh.accountOf(r.owner), gh.createdAt),
      userObject(gh.urls, gh.sender),
    );

  route("GET", "/repos/{owner}/{repo}/actions/runs", {
    auth: "installation",
    permission: actionsRead,
    fn: (ctx) => {
      const r = gh.repoOf(ctx.params.owner as string, ctx.params.repo as string);
      const q = ctx.query;
      const runs = runsOf(r)
        .filter((run) => {
          if (q.branch !== undefined && run.headBranch !== q.branch) return false;
          if (q.head_sha !== undefined && run.headSha !== q.head_sha) return false;
          if (q.event !== undefined && run.event !== q.event) return false;
          if (q.created !== undefined && !matchesCreated(q.created, run.createdAt)) return false;
          if (q.status !== undefined) {
            const { status, conclusion } = runStatus(jobsOfRun(run.id).filter((j) => j.runAttempt === run.runAttempt));
            if (q.status !== status && q.status !== conclusion) return false;
          }
          return true;
        })
        .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || b.id - a.id);
      const { page, headers } = gh.paginate(ctx, runs);
      return { status: 200, headers, body: { total_count: runs.length, workflow_runs: page.map((run) => runJson(r, run)) } };
    },
  });

  route("GET", "/repos/{owner}/{repo}/actions/runs/{run_id}", {
    auth: "installation",
    permission: actionsRead,
    fn: (ctx) => {
      const r = gh.repoOf(ctx.params.owner as string, ctx.params.repo as string);
      const run = gh.runsById.get(Number(ctx.params.run_id));
      if (!run || run.owner !== r.owner || run.repo !== r.name) throw new HttpError(404, "Not Found");
      return { status: 200, body: runJson(r, run) };
    },
  });

  route("GET", "/repos/{owner}/{repo}/actions/runs/{run_id}/jobs", {
    auth: "installation",
    permission: actionsRead,
    fn: (ctx) => {
      const r = gh.repoOf(ctx.params.owner as string, ctx.params.repo as string);
      const run = gh.runsById.get(Number(ctx.params.run_id));
      if (!run || run.owner !== r.owner || run.repo !== r.name) throw new HttpError(404, "Not Found");
      const all = jobsOfRun(run.id);
      const jobs = ctx.query.filter === "all" ? all : all.filter((j) => j.runAttempt === run.runAttempt);
      const { page, headers } = gh.paginate(ctx, jobs);
      return { status: 200, headers, body: { total_count: jobs.length, jobs: page.map((j) => jobObject(gh.urls, j)) } };
    },
  });
}
