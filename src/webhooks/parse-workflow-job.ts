// The job a `workflow_job` delivery is about, checked: a payload of the wrong shape
// is rejected with the reason, never half-used.
import type { Result } from "../lib/result.js";
import { z } from "zod";
import { toRepositoryRef } from "../github/repositories.js";
import type { JobRef } from "../model/job.js";

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
    html_url: z.string().max(2048).nullish(),
    conclusion: z.string().max(64).nullish(),
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
export interface WorkflowJobSeen {
  job: JobRef;
  runnerName: string | undefined;
  startedAt: string | undefined;
  completedAt: string | undefined;
  /** The job's page on GitHub. */
  htmlUrl: string | undefined;
  /** GitHub's conclusion (completed): success, failure, cancelled, … */
  conclusion: string | undefined;
}

/** What a delivery says, or why it cannot be used. */
export type WebhookJob = Result<WorkflowJobSeen>;

/** The job of a `workflow_job` delivery, or why the delivery cannot be used. */
export function jobFromWebhook(payload: unknown): WebhookJob {
  const parsed = workflowJobPayload.safeParse(payload);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { ok: false, reason: `malformed payload: ${issue.path.join(".")}: ${issue.message}` };
  }
  const { workflow_job: job, repository, installation } = parsed.data;
  if (!installation) return { ok: false, reason: "the delivery names no installation" };
  return {
    ok: true,
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
    htmlUrl: job.html_url ?? undefined,
    conclusion: job.conclusion ?? undefined,
  };
}
