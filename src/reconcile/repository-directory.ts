// Repositories the App knows, with the installation that reaches them and when
// their Actions were last active. A cache: webhooks and full sweeps fill it, a
// restart empties it (the next full sweep refills it). Bounded: the repositories
// least recently seen go first (a full sweep finds them again).
import { BoundedMap } from "../lib/bounded.js";
import { repositoryKey, type RepositoryRef } from "../model/job.js";

/** Repositories remembered at most: far more than one deployment's installations hold in active use. */
export const MAX_KNOWN_REPOSITORIES = 50_000;

export interface KnownRepository {
  repository: RepositoryRef;
  installationId: number;
  /** Epoch ms of the last workflow_job event; 0 when only seen in a sweep. */
  activeAt: number;
}

export class RepositoryDirectory {
  readonly #known = new BoundedMap<string, KnownRepository>(MAX_KNOWN_REPOSITORIES);

  /** A workflow_job event arrived for the repository. */
  noteActivity(repository: RepositoryRef, installationId: number, at: number): void {
    this.#known.set(repositoryKey(repository), { repository, installationId, activeAt: at });
  }

  /** Seen in a sweep or looked up: known, but not a sign of activity. */
  remember(repository: RepositoryRef, installationId: number): void {
    const key = repositoryKey(repository);
    this.#known.set(key, { repository, installationId, activeAt: this.#known.get(key)?.activeAt ?? 0 });
  }

  get(name: string): KnownRepository | undefined {
    return this.#known.get(repositoryKey(name));
  }

  /** Installation id → the account (org or user) it is installed on, as seen so far. */
  accounts(): Map<number, string> {
    const accounts = new Map<number, string>();
    for (const known of this.#known.values()) accounts.set(known.installationId, known.repository.owner);
    return accounts;
  }

  /** The installation is gone, or these of its repositories were taken from it. */
  forget(installationId: number, repositories?: string[]): void {
    if (repositories) {
      for (const name of repositories)
        if (this.#known.get(repositoryKey(name))?.installationId === installationId) this.#known.delete(repositoryKey(name));
      return;
    }
    for (const [key, known] of this.#known) if (known.installationId === installationId) this.#known.delete(key);
  }

  activeSince(since: number): KnownRepository[] {
    return [...this.#known.values()].filter((known) => known.activeAt >= since);
  }
}
