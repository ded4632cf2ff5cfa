// Where a runner is registered: at org level (one registration serves the org's
// repositories through a runner group) or at repository level, and the key that
// names a scope in tags and logs.
export type RunnerScope =
  { kind: "org"; org: string; runnerGroupId: number } | { kind: "repo"; owner: string; repo: string; runnerGroupId: number };

/** "org:<org>" or "repo:<owner>/<repo>": how tags and logs name a scope. */
export function scopeKey(scope: { kind: "org"; org: string } | { kind: "repo"; owner: string; repo: string }): string {
  return scope.kind === "org" ? `org:${scope.org}` : `repo:${scope.owner}/${scope.repo}`;
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
