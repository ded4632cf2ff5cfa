// A queued job as the App tracks it: what a runner needs to know and where it
// came from. Built from a webhook payload or from the REST API.
import { z } from "zod";
import { toRepositoryRef } from "./repositories.js";

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

/** Oldest job first (by creation time, then id): the order jobs wait and are served in. */
export function oldestFirst(a: Pick<JobRef, "createdAt" | "id">, b: Pick<JobRef, "createdAt" | "id">): number {
  return (a.createdAt ?? "").localeCompare(b.createdAt ?? "") || a.id - b.id;
}

const workflowJobPayload = z.object({
  workflow_job: z.object({
    id: z.number().int().positive(),
    run_id: z.number().int().positive(),
    name: z.string(),
    labels: z.array(z.string()),
    created_at: z.string().nullish(),
    started_at: z.string().nullish(),
    completed_at: z.string().nullish(),
    runner_name: z.string().nullish(),
  }),
  repository: z.object({
    id: z.number(),
    name: z.string(),
    private: z.boolean(),
    visibility: z.string().optional(),
    owner: z.object({ login: z.string(), type: z.string().optional() }),
  }),
  installation: z.object({ id: z.number().int().positive() }).nullish(),
});

/** The job of a delivery, the runner that took it and when (in_progress, completed). */
export type WebhookJob = { job: JobRef; runnerName: string | undefined; startedAt: string | undefined; completedAt: string | undefined } | { rejected: string };

/** The job of a `workflow_job` delivery, or why the delivery cannot be used. */
export function jobFromWebhook(payload: unknown): WebhookJob {
  const parsed = workflowJobPayload.safeParse(payload);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { rejected: `malformed payload: ${issue.path.join(".")}: ${issue.message}` };
  }
  const { workflow_job: job, repository, installation } = parsed.data;
  if (!installation) return { rejected: "the delivery names no installation" };
  return {
    job: {
      id: job.id,
      runId: job.run_id,
      name: job.name,
      labels: job.labels,
      createdAt: job.created_at ?? undefined,
      repository: toRepositoryRef(repository),
      installationId: installation.id,
    },
    runnerName: job.runner_name ?? undefined,
    startedAt: job.started_at ?? undefined,
    completedAt: job.completed_at ?? undefined,
  };
}
