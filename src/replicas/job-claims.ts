// Who serves a job. Whoever dispatches a job (a webhook, a reconcile pass) claims it
// first; a claimed job is "being served" for every replica's reconciler, however long
// its dispatch waits for budget or capacity.
//
// One process needs no claims: its dispatcher already knows what it serves, so the
// local claims grant everything and report nothing (today's behaviour). A fleet keeps
// them in Redis (redis-job-claims.ts).
import type { JobRef } from "../model/job.js";

export interface JobClaims {
  /** Claims the job for this replica; false when another replica holds it. */
  claim(jobId: number): Promise<boolean>;
  /** The dispatch is over: the claim stays a short while ("served recently"), then lapses. */
  release(job: Pick<JobRef, "id" | "installationId">): void;
  /**
   * The job's runner was taken by another job of the same installation: a claim whose
   * dispatch ended no longer says "served" (one in progress stays), so any replica may
   * serve the job again now. A job of another installation is left alone (an event
   * cannot reopen another tenant's job).
   */
  reopen(job: Pick<JobRef, "id" | "installationId">): Promise<void>;
  /** Of these jobs, those another replica (or this one) is serving. */
  claimed(jobIds: number[]): Promise<Set<number>>;
  /** Stops renewing (shutdown); claims held lapse by themselves. */
  stop(): void;
}

export const LOCAL_JOB_CLAIMS: JobClaims = {
  claim: () => Promise.resolve(true),
  release: () => undefined,
  reopen: () => Promise.resolve(),
  claimed: () => Promise.resolve(new Set()),
  stop: () => undefined,
};
