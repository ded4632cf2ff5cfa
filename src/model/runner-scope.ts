// Where a runner is registered: at org level (one registration serves the org's
// repositories through a runner group) or at repository level, and the key that
// names a scope in tags, logs and maps. The one home of the scope-key rules: its
// format, its case, and which repositories a scope serves.
import { repositoryKey, type RepositoryRef } from "./job.js";

export type RunnerScope =
  { kind: "org"; org: string; runnerGroupId: number } | { kind: "repo"; owner: string; repo: string; runnerGroupId: number };

/**
 * "org:<org>" or "repo:<owner>/<repo>", lower-case: how tags, logs and maps name a
 * scope. GitHub compares logins and repository names case-insensitively (and its
 * URLs take either case), so one scope has one key however a payload spelled it.
 */
export function scopeKey(scope: { kind: "org"; org: string } | { kind: "repo"; owner: string; repo: string }): string {
  return canonicalScopeKey(scope.kind === "org" ? `org:${scope.org}` : `repo:${scope.owner}/${scope.repo}`);
}

/**
 * A key read back (from a sandbox's tag) in the form `scopeKey` writes: sandboxes
 * tagged before keys were lower-case carry the account's own spelling.
 */
export function canonicalScopeKey(key: string): string {
  return key.toLowerCase();
}

/** Whether runners registered in the scope `key` can take jobs of `repository`: its own scope or its owner's org. */
export function scopeServes(key: string, repository: Pick<RepositoryRef, "owner" | "name"> | string): boolean {
  const scope = canonicalScopeKey(key);
  const repo = repositoryKey(repository);
  return scope === `repo:${repo}` || scope === `org:${repo.split("/")[0]}`;
}

/** The scope a key names (runner group unknown: listing and deleting runners do not need it). */
export function scopeFromKey(key: string): RunnerScope | undefined {
  const org = /^org:([^/]+)$/.exec(key);
  if (org) return { kind: "org", org: org[1]!, runnerGroupId: DEFAULT_RUNNER_GROUP_ID };
  const repo = /^repo:([^/]+)\/([^/]+)$/.exec(key);
  if (repo) return { kind: "repo", owner: repo[1]!, repo: repo[2]!, runnerGroupId: DEFAULT_RUNNER_GROUP_ID };
  return undefined;
}

/** The default runner group; repository-level runners always live in it. */
export const DEFAULT_RUNNER_GROUP_ID = 1;
