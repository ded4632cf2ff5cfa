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
    const { owner, name } = repository;
    // One read of the repository's file; without one, the config plugin falls back
    // to the org's and returns it too, so the org's is read separately only when
    // the repository has a file of its own.
    const read = await this.#files(octokit, owner, name);
    let org: { repo: string; config: unknown } | undefined;
    let own: { repo: string; config: unknown } | undefined;
    if (name === ".github") org = read.files[0];
    else if (read.files[0]?.config != null || read.failedOwn) {
      own = read.files[0];
      org = (await this.#files(octokit, owner, ".github")).files[0];
    } else org = read.files[1];
    let policy = operator;
    for (const file of [org, own]) {
      if (file?.config == null) continue;
      const where = `${owner}/${file.repo}/${POLICY_PATH}`;
      const parsed = orgPolicySchema.safeParse(file.config);
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

  /**
   * The files the config plugin read for `repo` (its own, then the org's when it
   * has none). A file that cannot be read or parsed is reported and left out;
   * `failedOwn` says the repository's own file was the one that failed.
   */
  async #files(octokit: AppOctokit, owner: string, repo: string): Promise<{ files: Array<{ repo: string; config: unknown }>; failedOwn: boolean }> {
    try {
      const { files } = await octokit.config.get({ owner, repo, path: POLICY_PATH });
      return { files, failedOwn: false };
    } catch (error) {
      const status = httpStatus(error);
      if (status !== undefined && status !== 403) throw error;
      const message = status === 403 ? "the App may not read it (grant the Single file permission for this path)" : (error as Error).message;
      // The plugin's message names the file that failed: this repository's or, on fallback, the org's.
      const failedRepo = status === undefined && message.includes(`/${owner}/.github/contents/`) ? ".github" : repo;
      if (status === 403) this.#reportOnce("warn", `${owner}/${failedRepo}/${POLICY_PATH}`, message, "policy file cannot be read; ignored");
      else this.#reportOnce("error", `${owner}/${failedRepo}/${POLICY_PATH}`, message, "policy file is invalid and ignored; the operator's policy applies");
      return { files: [], failedOwn: failedRepo === repo };
    }
  }

  #reportOnce(level: "error" | "warn", file: string, problem: string, message: string): void {
    const key = `${file} ${problem}`;
    if (this.#reported.has(key)) return;
    this.#reported.add(key);
    this.log[level]({ file, problem }, message);
  }
}
