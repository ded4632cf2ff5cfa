// What a pass saw and did not resolve, kept watched by the passes after it. Between
// full sweeps a pass looks only at repositories with recent webhooks and at the
// scopes of our sandboxes; a job cut off mid-dispatch (a registration left without
// a sandbox, a queued job nobody serves) may have neither, and would wait for the
// next full sweep. So every pass hands forward:
// - each repository with a queued job it saw (served or not: it is resolved when
//   the job has started or gone);
// - each scope with one of our registrations that is idle (it waits out
//   REGISTRATION_GRACE, or for a job).
// An entry leaves the list when a pass has read it completely and found it
// resolved, or when it is older than GitHub keeps a queued job (a day).
//
// Bounded: at most MAX_WATCHED entries, and MAX_WATCHED_PER_INSTALLATION for one
// installation, so one tenant's thousands of repositories cannot push another's
// entries out. Past a bound the entry confirmed longest ago goes first (an entry
// every pass confirms stays; one no pass could read goes): what is evicted is found
// again by the next full sweep, so eviction delays a repair, it never loses one.
import { BoundedMap } from "../lib/bounded.js";
import { repositoryKey, type RepositoryRef } from "../model/job.js";
import { canonicalScopeKey } from "../model/runner-scope.js";
import type { Observation } from "./observation.js";
import { MAX_QUEUED_AGE_MS } from "./plan-repairs.js";

export const MAX_WATCHED = 10_000;
export const MAX_WATCHED_PER_INSTALLATION = 1_000;

export type WatchEntry =
  | { kind: "repository"; key: string; repository: RepositoryRef; installationId: number; since: number; confirmedAt: number }
  | { kind: "scope"; key: string; scopeKey: string; installationId: number; since: number; confirmedAt: number };

export type Unresolved =
  | { kind: "repository"; key: string; repository: RepositoryRef; installationId: number }
  | { kind: "scope"; key: string; scopeKey: string; installationId: number };

/** What a pass saw and did not resolve (pure). */
export function unresolvedIn(world: Pick<Observation, "queuedJobs" | "runners">): Unresolved[] {
  const out = new Map<string, Unresolved>();
  for (const job of world.queuedJobs) {
    const key = `repository ${repositoryKey(job.repository)}`;
    out.set(key, { kind: "repository", key, repository: job.repository, installationId: job.installationId });
  }
  for (const runner of world.runners) {
    if (runner.busy) continue;
    const key = `scope ${canonicalScopeKey(runner.scopeKey)}`;
    out.set(key, { kind: "scope", key, scopeKey: runner.scopeKey, installationId: runner.installationId });
  }
  return [...out.values()];
}

export class WatchList {
  readonly #entries: BoundedMap<string, WatchEntry>;

  constructor(private readonly limits = { total: MAX_WATCHED, perInstallation: MAX_WATCHED_PER_INSTALLATION }) {
    this.#entries = new BoundedMap(limits.total);
  }

  get size(): number {
    return this.#entries.size;
  }

  repositories(): Array<{ repository: RepositoryRef; installationId: number }> {
    return [...this.#entries.values()].flatMap((entry) => (entry.kind === "repository" ? [entry] : []));
  }

  scopes(): Array<{ scopeKey: string; installationId: number }> {
    return [...this.#entries.values()].flatMap((entry) => (entry.kind === "scope" ? [entry] : []));
  }

  /**
   * After a pass: what it saw unresolved is watched (or confirmed); what it read
   * completely (`scanned` repositories and `listed` scopes, by key) and found
   * resolved leaves the list.
   */
  update(unresolved: Unresolved[], read: { repositories: string[]; scopes: string[] }, now: number): void {
    const open = new Set(unresolved.map((entry) => entry.key));
    const wasRead = new Set([
      ...read.repositories.map((name) => `repository ${repositoryKey(name)}`),
      ...read.scopes.map((key) => `scope ${canonicalScopeKey(key)}`),
    ]);
    for (const [key, entry] of this.#entries) {
      if ((wasRead.has(key) && !open.has(key)) || now - entry.since >= MAX_QUEUED_AGE_MS) this.#entries.delete(key);
    }
    for (const entry of unresolved) {
      const since = this.#entries.get(entry.key)?.since ?? now;
      this.#entries.set(entry.key, { ...entry, since, confirmedAt: now }); // set() makes it the newest
    }
    this.#boundInstallations();
  }

  /** An installation that is gone (or repositories taken from it) is no longer watched. */
  forget(match: { installationId: number; repositories?: string[] }): void {
    const keys = match.repositories && new Set(match.repositories.map((name) => `repository ${repositoryKey(name)}`));
    for (const [key, entry] of this.#entries) {
      if (entry.installationId === match.installationId && (!keys || keys.has(key))) this.#entries.delete(key);
    }
  }

  /** Each installation keeps its most recently confirmed entries (the map's order is confirmation order). */
  #boundInstallations(): void {
    const count = new Map<number, number>();
    for (const entry of this.#entries.values()) count.set(entry.installationId, (count.get(entry.installationId) ?? 0) + 1);
    for (const [key, entry] of this.#entries) {
      const excess = count.get(entry.installationId)! - this.limits.perInstallation;
      if (excess <= 0) continue;
      this.#entries.delete(key);
      count.set(entry.installationId, excess - 1 + this.limits.perInstallation);
    }
  }
}
