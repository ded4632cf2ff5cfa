// Reads the org's and the repository's `.github/modal-runner.yml` and narrows the
// operator's policy with them. Each file's `_extends` chain is followed and merged
// as Probot's config plugin does (`_extends: other-repo` or `owner/repo:path.yml`;
// the extending file's top-level keys win), with cycles and depth guarded.
//
// Fails closed: a file that does not exist narrows nothing, but a file that is
// invalid, too big, or cannot be read (403, 5xx, network) means the org or the
// repository is not served until it reads. Serving it with the operator's policy
// alone would hand runners to repositories the org meant to exclude.
//
// Stays cheap: results are cached per file (a minute; a failure for 15 s, so a fixed
// file is picked up soon), parsed contents are kept by blob sha so an unchanged file
// is never parsed twice, and GitHub's answers are conditional (no rate limit for an
// unchanged file).
//
// Stays off a job's path where it can: a file used in the last quarter of its minute is
// read again in the background (what a job is served is never older than the minute,
// and a busy org's jobs never wait for the re-read), and a full sweep has each org's file
// read in the background ahead of its first job (`prefetchOrg`), so that job waits for its
// repository's file only.
import PQueue from "p-queue";
import type { Logger } from "pino";
import type { AppOctokit } from "../github/create-octokit-class.js";
import { BoundedMap } from "../lib/bounded.js";
import { describeFailure, isTokenFailure } from "../lib/errors.js";
import { repositoryKey, type RepositoryRef } from "../model/job.js";
import { narrowPolicy, orgPolicySchema, POLICY_PATH, refusedPolicy, type EffectivePolicy, type OrgPolicyFile } from "./org-policy.js";
import { hiddenPolicyRepository, policyRepositoryAccess, POLICY_REPOSITORY } from "./policy-repository-access.js";
import { PARSED_LIMIT, readPolicyFile, type ParsedBySha, type PolicyFileRef } from "./read-policy-file.js";

const TTL_MS = 60_000;
const FAILURE_TTL_MS = 15_000;
/** A cached file used when this share of its time is gone is read again in the background. */
const REFRESH_AHEAD = 0.75;
/** Background reads (ahead of an org's jobs, or of a file's minute) under way at once. */
const BACKGROUND_CONCURRENCY = 8;
/** Files followed through `_extends` after the first; deeper chains are refused. */
const MAX_EXTENDS = 5;
/** Bounds on what is remembered, so a deployment serving many orgs stays flat in memory. */
const MAX_CACHED_FILES = 10_000;

// The config plugin's syntax: `repo`, `owner/repo`, optionally `:path.yml`.
const EXTENDS = /^(?:([a-z\d](?:[a-z\d]|-(?=[a-z\d])){0,38})\/)?([-_.\w\d]+)(?::([-_./\w\d]+\.ya?ml))?$/i;

type Chain =
  | { state: "absent" }
  /** The installation granted no file permission: policy files are not in use there. */
  | { state: "not-granted"; file: string }
  | { state: "read"; file: string; config: OrgPolicyFile }
  | { state: "unreadable"; file: string; reason: string };

/**
 * Whether the installation granted a permission that reads files (Single file or
 * Contents). An org that never granted it cannot have a policy file in force, so a
 * 403 there means "no policy files here", not "a policy file we cannot read".
 */
async function grantsFileRead(octokit: AppOctokit): Promise<boolean> {
  try {
    const auth = (await octokit.auth({ type: "installation" })) as { permissions?: Record<string, string> };
    if (!auth.permissions) return true; // unknown: assume granted, and fail closed
    return auth.permissions.single_file !== undefined || auth.permissions.contents !== undefined;
  } catch {
    return true;
  }
}

export interface PolicyFilesOptions {
  /** Called once per read that leaves an org or repository unserved (for a counter). */
  onUnreadable?: (event: { file: string; reason: string }) => void;
}

const where = (ref: PolicyFileRef) => `${ref.owner}/${ref.repo}/${ref.path}`;

interface CachedChain {
  at: number;
  ttl: number;
  chain: Promise<Chain>;
  settled: boolean;
  /** A background read that will replace this entry is under way. */
  refreshing: boolean;
}

export class PolicyFiles {
  readonly #chains = new BoundedMap<string, CachedChain>(MAX_CACHED_FILES);
  /** Reads no job waits for: an org's file ahead of its jobs, a file ahead of the end of its minute. */
  readonly #background = new PQueue({ concurrency: BACKGROUND_CONCURRENCY });
  readonly #parsed: ParsedBySha = new BoundedMap(PARSED_LIMIT);
  /** Warnings already logged per file, so each is logged once. */
  readonly #reported = new BoundedMap<string, Set<string>>(MAX_CACHED_FILES);
  /** Files that fail now, with the reason last logged: one error line per failure, again only if it changes or comes back. */
  readonly #failing = new BoundedMap<string, string>(MAX_CACHED_FILES);

  constructor(
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
    private readonly options: PolicyFilesOptions = {},
  ) {}

  /**
   * The operator's policy narrowed by the files that apply to `repository`. When a
   * file cannot be trusted the result has `refused` set (and allows nothing).
   */
  async effective(octokit: AppOctokit, operator: EffectivePolicy, repository: RepositoryRef): Promise<EffectivePolicy> {
    const { owner, name } = repository;
    let policy = operator;
    // Both files are read at once (an org's first job waits for one round of reads, not
    // two), and applied in order: the org's file first, then the repository's own.
    const chains = (name === ".github" ? [".github"] : [".github", name]).map((repo) => this.#chain(octokit, owner, repo));
    for (const pending of chains) {
      const chain = await pending;
      if (chain.state === "absent") continue;
      if (chain.state === "not-granted") {
        this.#reportOnce(
          "warn",
          chain.file,
          "not granted",
          "policy files are not read: the installation granted no Single file (or Contents) permission; only the operator's policy applies",
        );
        continue;
      }
      if (chain.state === "unreadable")
        return refusedPolicy(operator, `policy file ${chain.file} ${chain.reason}; not served until it reads`);
      const narrowed = narrowPolicy(policy, chain.config);
      for (const attempt of narrowed.ignored)
        this.#reportOnce("warn", chain.file, attempt, "policy file tries to widen the operator's policy; that part is ignored");
      policy = narrowed.policy;
    }
    return policy;
  }

  /**
   * Reads the org's own file (in its `.github` repository) in the background unless it is
   * cached, so the org's next job finds it. What it finds is cached as a job's read would be.
   */
  prefetchOrg(octokit: AppOctokit, owner: string): void {
    void this.#background.add(() => this.#chain(octokit, owner, POLICY_REPOSITORY).catch(() => undefined));
  }

  #chain(octokit: AppOctokit, owner: string, repo: string): Promise<Chain> {
    const key = repositoryKey({ owner, name: repo });
    const cached = this.#chains.get(key);
    const age = cached ? this.now() - cached.at : Infinity;
    if (cached && age < cached.ttl) {
      if (cached.settled && !cached.refreshing && age >= cached.ttl * REFRESH_AHEAD) this.#refresh(octokit, key, { owner, repo }, cached);
      return cached.chain;
    }
    const entry = this.#read(octokit, { owner, repo });
    this.#chains.set(key, entry);
    // Without an installation token nothing is known: the caller fails, and nothing is cached.
    entry.chain.catch(() => {
      if (this.#chains.get(key) === entry) this.#chains.delete(key);
    });
    return entry.chain;
  }

  /** Reads the file again; the answer replaces `stale` once it is in (until then `stale`, still within its time, is served). */
  #refresh(octokit: AppOctokit, key: string, at: { owner: string; repo: string }, stale: CachedChain): void {
    stale.refreshing = true;
    void this.#background.add(async () => {
      const entry = this.#read(octokit, at);
      try {
        await entry.chain;
        if (this.#chains.get(key) === stale) this.#chains.set(key, entry);
      } catch {
        stale.refreshing = false; // no token now: a later job tries again
      }
    });
  }

  /** Resolves once no background read is queued or under way. */
  async idle(): Promise<void> {
    await this.#background.onIdle();
  }

  /** Drops the background reads not started yet (shutting down: no job will wait for them). */
  dropQueuedReads(): void {
    this.#background.clear();
  }

  #read(octokit: AppOctokit, { owner, repo }: { owner: string; repo: string }): CachedChain {
    const file = where({ owner, repo, path: POLICY_PATH });
    const entry: CachedChain = {
      at: this.now(),
      ttl: TTL_MS,
      chain: this.#readChain(octokit, { owner, repo, path: POLICY_PATH }),
      settled: false,
      refreshing: false,
    };
    void entry.chain.then(
      (chain) => {
        entry.settled = true;
        if (chain.state === "unreadable") {
          entry.ttl = FAILURE_TTL_MS;
          this.options.onUnreadable?.({ file: chain.file, reason: chain.reason });
          if (this.#failing.get(chain.file) === chain.reason) return;
          this.#failing.set(chain.file, chain.reason);
          this.log.error(
            { file: chain.file, problem: chain.reason },
            "policy file unreadable; its org or repository is not served until it reads",
          );
        } else if (this.#failing.delete(file)) {
          this.log.info({ file }, "policy file reads again");
        }
      },
      () => undefined,
    );
    return entry;
  }

  /** The file and its `_extends` chain, merged; any link that fails makes the whole chain unreadable. */
  async #readChain(octokit: AppOctokit, top: PolicyFileRef): Promise<Chain> {
    const file = where(top);
    try {
      const configs: Record<string, unknown>[] = [];
      const seen = new Set<string>();
      let ref: PolicyFileRef | undefined = top;
      while (ref) {
        const at = where(ref);
        if (seen.has(at.toLowerCase())) return { state: "unreadable", file, reason: `has an _extends cycle through ${at}` };
        if (seen.size > MAX_EXTENDS) return { state: "unreadable", file, reason: `has an _extends chain longer than ${MAX_EXTENDS}` };
        seen.add(at.toLowerCase());
        const read = await readPolicyFile(octokit, ref, this.#parsed);
        if (read.state === "absent") {
          // A 404 is "no file" only if the App could have seen the repository (see policy-repository-access.ts).
          if (ref === top && top.repo === POLICY_REPOSITORY && (await policyRepositoryAccess(octokit, top.owner)) === "hidden")
            return (await grantsFileRead(octokit))
              ? { state: "unreadable", file, reason: hiddenPolicyRepository(top.owner) }
              : { state: "not-granted", file };
          if (ref === top) return { state: "absent" };
          return { state: "unreadable", file, reason: `extends ${at}, which does not exist` };
        }
        if (read.state === "unreadable") {
          if (ref === top && read.status === 403 && !(await grantsFileRead(octokit))) return { state: "not-granted", file };
          return { state: "unreadable", file, reason: ref === top ? read.reason : `extends ${at}: ${read.reason}` };
        }
        const { _extends: extendsValue, ...config } = read.config;
        configs.push(config);
        ref = undefined;
        if (extendsValue !== undefined) {
          // Bounded before the (constant, linear) pattern sees it: an owner, a repository and a path fit in 300 characters.
          const match = typeof extendsValue === "string" && extendsValue.length <= 300 ? EXTENDS.exec(extendsValue) : null;
          if (!match)
            return {
              state: "unreadable",
              file,
              reason: `${at}: _extends ${JSON.stringify(extendsValue).slice(0, 120)} is not "repo", "owner/repo" or "owner/repo:path.yml"`,
            };
          ref = { owner: match[1] ?? top.owner, repo: match[2]!, path: match[3] ?? POLICY_PATH };
        }
      }
      // The config plugin's merge: the extended file first, each extending file's keys over it.
      const merged = Object.assign({}, ...configs.reverse()) as Record<string, unknown>;
      const parsed = orgPolicySchema.safeParse(merged);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        const key = issue.code === "unrecognized_keys" ? issue.keys.join(", ") : issue.path.join(".") || "(top level)";
        return {
          state: "unreadable",
          file,
          reason: `is invalid: ${key}: ${issue.code === "unrecognized_keys" ? "unknown key" : issue.message}`,
        };
      }
      return { state: "read", file, config: parsed.data };
    } catch (error) {
      if (isTokenFailure(error)) throw error;
      return { state: "unreadable", file, reason: `read failed: ${describeFailure(error).reason}` };
    }
  }

  #reportOnce(level: "warn", file: string, problem: string, message: string): void {
    let problems = this.#reported.get(file);
    if (problems?.has(problem)) return;
    if (!problems) this.#reported.set(file, (problems = new Set()));
    problems.add(problem);
    this.log[level]({ file, problem }, message);
  }
}
