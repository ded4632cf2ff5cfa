// A queued job as the App tracks it, and the repository it belongs to: what a runner
// needs to know and where the job came from. Built from a webhook payload or from
// the REST API. Plain data, imported by every room; imports nothing.
export interface RepositoryRef {
  id: number;
  owner: string;
  name: string;
  ownerType: "Organization" | "User";
  private: boolean;
  /** "public", "private" or "internal". */
  visibility: string;
}

export interface JobRef {
  id: number;
  runId: number;
  name: string;
  labels: string[];
  createdAt: string | undefined;
  repository: RepositoryRef;
  installationId: number;
}

export function fullName(repository: Pick<RepositoryRef, "owner" | "name">): string {
  return `${repository.owner}/${repository.name}`;
}

/** The one key of a repository in maps and comparisons: "owner/name", lower-case (GitHub names are case-insensitive). */
export function repositoryKey(repository: Pick<RepositoryRef, "owner" | "name"> | string): string {
  return (typeof repository === "string" ? repository : fullName(repository)).toLowerCase();
}

/** Whether two repositories ("owner/name" or refs) belong to the same account: an installation's repositories all do. */
export function sameOwner(a: Pick<RepositoryRef, "owner" | "name"> | string, b: Pick<RepositoryRef, "owner" | "name"> | string): boolean {
  return repositoryKey(a).split("/")[0] === repositoryKey(b).split("/")[0];
}

/**
 * Whether an event from `origin` may affect something placed for `owner`: the same
 * installation, and (where both are known) a repository of the same account.
 * Runner names are unique only within one org, so a name alone never suffices.
 */
export function sameTenant(
  owner: { installationId: number; repository?: string | undefined },
  origin: { installationId: number; repository?: string | undefined },
): boolean {
  if (owner.installationId !== origin.installationId) return false;
  return owner.repository === undefined || origin.repository === undefined || sameOwner(owner.repository, origin.repository);
}

/** Oldest job first (by creation time, then id): the order jobs wait and are served in. */
export function oldestFirst(a: Pick<JobRef, "createdAt" | "id">, b: Pick<JobRef, "createdAt" | "id">): number {
  return (a.createdAt ?? "").localeCompare(b.createdAt ?? "") || a.id - b.id;
}
