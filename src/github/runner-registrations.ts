// Runner registrations at GitHub, at org or repository level: create one with a
// Just-In-Time config, find one by name, delete one.
import { httpStatus } from "../lib/errors.js";
import type { AppOctokit } from "./create-octokit-class.js";
import type { RunnerScope } from "../model/runner-scope.js";

export interface RunnerRegistration {
  id: number;
  name: string;
  status: string;
  busy: boolean;
  labels: string[];
}

export type JitConfigResult =
  | { kind: "created"; runner: RunnerRegistration; encodedJitConfig: string }
  /** GitHub answered 409: a runner with this name is already registered in the scope. */
  | { kind: "name-taken" };

function toRegistration(runner: {
  id: number;
  name: string;
  status: string;
  busy: boolean;
  labels: { name: string }[];
}): RunnerRegistration {
  return { id: runner.id, name: runner.name, status: runner.status, busy: runner.busy, labels: runner.labels.map((label) => label.name) };
}

export async function generateJitConfig(
  octokit: AppOctokit,
  scope: RunnerScope,
  runner: { name: string; labels: string[]; workFolder: string },
): Promise<JitConfigResult> {
  const body = { name: runner.name, labels: runner.labels, runner_group_id: scope.runnerGroupId, work_folder: runner.workFolder };
  try {
    const response =
      scope.kind === "org"
        ? await octokit.rest.actions.generateRunnerJitconfigForOrg({ org: scope.org, ...body })
        : await octokit.rest.actions.generateRunnerJitconfigForRepo({ owner: scope.owner, repo: scope.repo, ...body });
    return { kind: "created", runner: toRegistration(response.data.runner), encodedJitConfig: response.data.encoded_jit_config };
  } catch (error) {
    if (httpStatus(error) === 409) return { kind: "name-taken" };
    throw error;
  }
}

export async function findRunnerByName(octokit: AppOctokit, scope: RunnerScope, name: string): Promise<RunnerRegistration | undefined> {
  const response =
    scope.kind === "org"
      ? await octokit.rest.actions.listSelfHostedRunnersForOrg({ org: scope.org, name, per_page: 100 })
      : await octokit.rest.actions.listSelfHostedRunnersForRepo({ owner: scope.owner, repo: scope.repo, name, per_page: 100 });
  const match = response.data.runners.find((runner) => runner.name === name);
  return match ? toRegistration(match) : undefined;
}

export async function listRunners(octokit: AppOctokit, scope: RunnerScope): Promise<RunnerRegistration[]> {
  const runners =
    scope.kind === "org"
      ? await octokit.paginate(octokit.rest.actions.listSelfHostedRunnersForOrg, { org: scope.org, per_page: 100 })
      : await octokit.paginate(octokit.rest.actions.listSelfHostedRunnersForRepo, { owner: scope.owner, repo: scope.repo, per_page: 100 });
  return runners.map(toRegistration);
}

/**
 * Deletes a registration. GitHub refuses (422) while the runner runs a job: then
 * the runner is busy and must be left alone. "gone" when it no longer exists.
 */
export async function deleteRunner(octokit: AppOctokit, scope: RunnerScope, runnerId: number): Promise<"deleted" | "busy" | "gone"> {
  try {
    if (scope.kind === "org") await octokit.rest.actions.deleteSelfHostedRunnerFromOrg({ org: scope.org, runner_id: runnerId });
    else await octokit.rest.actions.deleteSelfHostedRunnerFromRepo({ owner: scope.owner, repo: scope.repo, runner_id: runnerId });
    return "deleted";
  } catch (error) {
    if (httpStatus(error) === 422) return "busy";
    if (httpStatus(error) === 404) return "gone";
    throw error;
  }
}
