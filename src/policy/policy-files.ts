// Reads the org's and the repository's `.github/modal-runner.yml` (Probot's config
// convention, through its config plugin) and narrows the operator's policy with
// them. A file that is invalid, or that the App may not read, is ignored with one
// log line and the rest of the policy applies. Answers are cached for a minute;
// GitHub's answers are conditional, so an unchanged file costs no rate limit.
import type { Logger } from "pino";
import { httpStatus } from "../errors.js";
import type { AppOctokit } from "../github/create-octokit-class.js";
import { fullName, type RepositoryRef } from "../github/job-ref.js";
import { narrowPolicy, orgPolicySchema, POLICY_PATH, type EffectivePolicy } from "./org-policy.js";

const TTL_MS = 60_000;

export class PolicyFiles {
  readonly #cache = new Map<string, { at: number; policy: Promise<EffectivePolicy> }>();
  /** Problems already logged, so each is logged once. */
  readonly #reported = new Set<string>();

  constructor(
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** The operator's policy narrowed by the files that apply to `repository`. */
  effective(octokit: AppOctokit, operator: EffectivePolicy, repository: RepositoryRef): Promise<EffectivePolicy> {
    const key = fullName(repository).toLowerCase();
    const cached = this.#cache.get(key);
    if (cached && this.now() - cached.at < TTL_MS) return cached.policy;
    const policy = this.#read(octokit, operator, repository);
    this.#cache.set(key, { at: this.now(), policy });
    policy.catch(() => this.#cache.delete(key));
    return policy;
  }

  async #read(octokit: AppOctokit, operator: EffectivePolicy, repository: RepositoryRef): Promise<EffectivePolicy> {
    let policy = operator;
    const sources = repository.name === ".github" ? [".github"] : [".github", repository.name];
    // Read both at once; apply the org's first, then the repository's.
    const files = await Promise.all(sources.map((repo) => this.#file(octokit, repository.owner, repo)));
    for (const [index, repo] of sources.entries()) {
      const file = files[index];
      if (file === undefined) continue;
      const where = `${repository.owner}/${repo}/${POLICY_PATH}`;
      const parsed = orgPolicySchema.safeParse(file);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        this.#reportOnce("error", where, `${issue.path.join(".") || "(top level)"}: ${issue.message}`, "policy file is invalid and ignored; the operator's policy applies");
        continue;
      }
      const narrowed = narrowPolicy(policy, parsed.data);
      for (const attempt of narrowed.ignored) this.#reportOnce("warn", where, attempt, "policy file tries to widen the operator's policy; that part is ignored");
      policy = narrowed.policy;
    }
    return policy;
  }

  /** The file's content; undefined when there is none (or it cannot be read). */
  async #file(octokit: AppOctokit, owner: string, repo: string): Promise<unknown> {
    try {
      const { files } = await octokit.config.get({ owner, repo, path: POLICY_PATH });
      // Without a file of its own, the plugin falls back to the org's: not this repository's.
      return files[0]?.config ?? undefined;
    } catch (error) {
      const status = httpStatus(error);
      if (status === 403) {
        this.#reportOnce("warn", `${owner}/${repo}/${POLICY_PATH}`, "the App may not read it (grant the Single file permission for this path)", "policy file cannot be read; ignored");
        return undefined;
      }
      if (status === undefined) {
        const message = (error as Error).message;
        // Without a file of its own, a repository falls back to the org's, whose
        // problem was reported when the org's file was read.
        if (repo !== ".github" && message.includes(`/${owner}/.github/contents/`)) return undefined;
        // Unparsable YAML and the like: the plugin's message says which file and why.
        this.#reportOnce("error", `${owner}/${repo}/${POLICY_PATH}`, message, "policy file is invalid and ignored; the operator's policy applies");
        return undefined;
      }
      throw error;
    }
  }

  #reportOnce(level: "error" | "warn", file: string, problem: string, message: string): void {
    const key = `${file} ${problem}`;
    if (this.#reported.has(key)) return;
    this.#reported.add(key);
    this.log[level]({ file, problem }, message);
  }
}
