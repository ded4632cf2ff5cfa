// Who serves a job. Whoever dispatches a job (a webhook, a reconcile pass) claims it
// first; a claimed job is "being served" for every replica's reconciler, however long
// its dispatch waits for budget or capacity.
//
// One process needs no claims: its dispatcher already knows what it serves, so the
// local claims grant everything and report nothing (today's behaviour). A fleet keeps
// them in Redis (redis-job-claims.ts).
export interface JobClaims {
  /** Claims the job for this replica; false when another replica holds it. */
  claim(jobId: number): Promise<boolean>;
  /** The dispatch is over: the claim stays a short while ("served recently"), then lapses. */
  release(jobId: number): void;
  /** Of these jobs, those another replica (or this one) is serving. */
  claimed(jobIds: number[]): Promise<Set<number>>;
  /** Stops renewing (shutdown); claims held lapse by themselves. */
  stop(): void;
}

export const LOCAL_JOB_CLAIMS: JobClaims = {
  claim: () => Promise.resolve(true),
  release: () => undefined,
  claimed: () => Promise.resolve(new Set()),
  stop: () => undefined,
};
