// Which scope a job's runner is registered in (see model/runner-scope.ts). `auto`
// picks org level for org installations and falls back to repository level for
// good if the installation has not granted "Self-hosted runners (organization)".
import { PermanentError } from "../lib/errors.js";
import { PromiseMemo } from "../lib/promise-memo.js";
import type { JobRef } from "../model/job.js";
import { DEFAULT_RUNNER_GROUP_ID, type RunnerScope } from "../model/runner-scope.js";
import type { AppOctokit } from "./create-octokit-class.js";

export type ScopeSetting = "auto" | "org" | "repo";

export class RunnerScopes {
  /** Installations where org-level registration was refused (403). */
  readonly #orgRefused = new Set<number>();
  /** Runner group ids by org, when RUNNER_GROUP is a name (one lookup even for concurrent jobs). */
  readonly #groupIds = new PromiseMemo<string, number>();

  readonly #group: number | string;

  constructor(
    private readonly setting: ScopeSetting,
    group: number | string,
  ) {
    // Every org's default group has id 1: no lookup needed.
    this.#group = typeof group === "string" && group.toLowerCase() === "default" ? DEFAULT_RUNNER_GROUP_ID : group;
  }

  async resolve(octokit: AppOctokit, job: Pick<JobRef, "installationId" | "repository">): Promise<RunnerScope> {
    const { owner, name, ownerType } = job.repository;
    const orgLevel =
      ownerType === "Organization" && (this.setting === "org" || (this.setting === "auto" && !this.#orgRefused.has(job.installationId)));
    if (!orgLevel) return { kind: "repo", owner, repo: name, runnerGroupId: DEFAULT_RUNNER_GROUP_ID };
    return { kind: "org", org: owner, runnerGroupId: await this.#groupId(octokit, owner) };
  }

  /**
   * Called when GitHub refused an org-level call with 403. Returns true when the
   * job should be retried at repository level (scope `auto`).
   */
  orgLevelRefused(installationId: number): boolean {
    if (this.setting !== "auto") return false;
    this.#orgRefused.add(installationId);
    return true;
  }

  #groupId(octokit: AppOctokit, org: string): Promise<number> {
    const group = this.#group;
    if (typeof group === "number") return Promise.resolve(group);
    // A failed lookup is not remembered: the group may be created later.
    return this.#groupIds.get(org, () => this.#lookUpGroup(octokit, org, group));
  }

  async #lookUpGroup(octokit: AppOctokit, org: string, groupName: string): Promise<number> {
    const groups = await octokit.paginate("GET /orgs/{org}/actions/runner-groups", { org, per_page: 100 });
    const match = groups.find((group) => group.name.toLowerCase() === groupName.toLowerCase());
    if (!match) throw new PermanentError(`runner group "${groupName}" does not exist in ${org} (RUNNER_GROUP)`);
    return match.id;
  }
}
