// A queued job as the App tracks it: what a runner needs to know and where it
// came from. Built from a webhook payload or from the REST API.

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

interface WorkflowJobPayload {
  workflow_job: { id: number; run_id: number; name: string; labels: string[]; created_at?: string | null };
  repository: {
    id: number;
    name: string;
    private: boolean;
    visibility?: string;
    owner: { login: string; type?: string };
  };
  installation?: { id: number } | null;
}

/** The job of a `workflow_job` delivery; undefined when it names no installation. */
export function jobFromWebhook(payload: WorkflowJobPayload): JobRef | undefined {
  const installationId = payload.installation?.id;
  if (!installationId) return undefined;
  const { workflow_job: job, repository } = payload;
  return {
    id: job.id,
    runId: job.run_id,
    name: job.name,
    labels: job.labels,
    createdAt: job.created_at ?? undefined,
    repository: {
      id: repository.id,
      owner: repository.owner.login,
      name: repository.name,
      ownerType: repository.owner.type === "Organization" ? "Organization" : "User",
      private: repository.private,
      visibility: repository.visibility ?? (repository.private ? "private" : "public"),
    },
    installationId,
  };
}
