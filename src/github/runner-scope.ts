// Where a job's runner is registered: at org level (one registration serves the
// org's repositories through a runner group) or at repository level. `auto` picks
// org level for org installations and falls back to repository level for good if
// the installation has not granted "Self-hosted runners (organization)".
import { PermanentError } from "../errors.js";
import type { JobRef } from "./job-ref.js";
import type { AppOctokit } from "./create-octokit-class.js";

export type RunnerScope =
  | { kind: "org"; org: string; runnerGroupId: number }
  | { kind: "repo"; owner: string; repo: string; runnerGroupId: number };

export type ScopeSetting = "auto" | "org" | "repo";

/** Repository-level runners live in the default group. */
const DEFAULT_RUNNER_GROUP_ID = 1;

export class RunnerScopes {
  /** Installations where org-level registration was refused (403). */
  readonly #orgRefused = new Set<number>();
  /** Runner group ids by org, when RUNNER_GROUP is a name. */
  readonly #groupIds = new Map<string, number>();

  constructor(
    private readonly setting: ScopeSetting,
    private readonly group: number | string,
  ) {}

  async resolve(octokit: AppOctokit, job: JobRef): Promise<RunnerScope> {
    const { owner, name, ownerType } = job.repository;
    const orgLevel =
      ownerType === "Organization" &&
      (this.setting === "org" || (this.setting === "auto" && !this.#orgRefused.has(job.installationId)));
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

  async #groupId(octokit: AppOctokit, org: string): Promise<number> {
    if (typeof this.group === "number") return this.group;
    const cached = this.#groupIds.get(org);
    if (cached !== undefined) return cached;
    const groups = await octokit.paginate("GET /orgs/{org}/actions/runner-groups", { org, per_page: 100 });
    const match = groups.find((group) => group.name.toLowerCase() === String(this.group).toLowerCase());
    if (!match) {
      throw new PermanentError(`runner group "${this.group}" does not exist in ${org} (RUNNER_GROUP)`);
    }
    this.#groupIds.set(org, match.id);
    return match.id;
  }
}
