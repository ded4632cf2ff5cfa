// Whether a job's "is it still queued?" look-up at GitHub can be left out before its
// runner is registered.
//
// The look-up keeps a late or replayed queued webhook from starting a runner for a job
// that started or finished meanwhile: once that job's first runner has finished and
// left, its runner name is free at GitHub again, and registering it again would make
// a second runner. A queued webhook for a young job, the first word of it here, cannot
// be such a case:
// - GitHub sends it moments after queuing the job and gives up on a delivery after
//   10 s, so the redelivery of a failed one (replayed by the reconciler, maybe on
//   another replica) comes when the job is older than that;
// - no reconcile pass serves a job younger than UNSERVED_JOB_GRACE, on any replica;
// - a job this replica has seen before (a retry, a second attempt) is looked up.
// For such a job the look-up would answer "queued" and cost a GitHub call and its
// latency. What it might still catch, the job cancelled or taken by another of our idle
// runners within those seconds, it cannot rule out anyway (the job can change between
// the look-up and the registration): the runner such a race leaves idle is removed by
// the reconciler (its own job is no longer queued and no queued job needs it), as ARC
// scales down a runner whose job went away.
import type { JobRef } from "../model/job.js";

/** Below GitHub's 10 s delivery timeout, with room for the clocks of GitHub and this host to differ. */
export const QUEUED_WEBHOOK_TRUSTED_MS = 8_000;

export interface StillQueuedFacts {
  /** The job came to this replica first in a queued webhook (not a reconcile pass, not a retry). */
  fromQueuedWebhook: boolean;
  /** The runner name's attempt number: 0 is the job's first runner. */
  attempt: number;
  /** A registration an earlier try minted is reused: the look-up decides whether it is still wanted. */
  reusesRegistration: boolean;
  /** How long after the job's creation a queued webhook is trusted (0: never). */
  trustedForMs: number;
  now: number;
}

/** True when GitHub must be asked whether the job is still queued before a runner is registered for it. */
export function stillQueuedCheckNeeded(job: Pick<JobRef, "createdAt">, facts: StillQueuedFacts): boolean {
  if (!facts.fromQueuedWebhook || facts.attempt !== 0 || facts.reusesRegistration || facts.trustedForMs <= 0) return true;
  const createdAt = job.createdAt === undefined ? NaN : Date.parse(job.createdAt);
  if (!Number.isFinite(createdAt)) return true;
  // A creation time ahead of this host's clock (the clocks differ) counts as young.
  return facts.now - createdAt >= facts.trustedForMs;
}
