// One queued job's life in the dispatcher, written down in one place: a tagged union
// on `state`, one value per job. The dispatcher, the reconciler's "is it being
// served here?" check and the status page's job story all read it.
//
//   planning ──▶ waiting(for: slot | budget | capacity | modal) ──▶ registering ──▶ creating ──▶ running
//      │              ▲            │                                    │              │
//      │              └────────────┴── Modal unavailable ◀──────────────┴──────────────┘
//      └──▶ finished (refused, failed, already-served, not-queued, forgotten)
//   retry-later: registering ──▶ waiting(for: retry) ──▶ planning
//
// The transitions are pure functions over plain data (table-tested); the dispatcher
// does the I/O and calls them. An attempt is an object (its number, the profile,
// where it counts against the caps, a registration kept from an earlier try), never
// a list of positional arguments.
import type { JobRef } from "../model/job.js";
import type { Caps, RunnerProfile } from "../model/runner-profile.js";
import type { Placement } from "./capacity.js";
import type { MintedRunner, ServeOutcome } from "./serve-job.js";

/**
 * What a waiting job waits for: a dispatch slot (all taken), its installation's
 * GitHub request budget, a cap, Modal (its breaker is open), or a delayed look
 * again (a registration that may be another replica's attempt in progress).
 */
export type WaitingFor = "slot" | "budget" | "capacity" | "modal" | "retry";

/** One try at serving the job, under runner name number `number`. */
export interface Attempt {
  number: number;
  profile: RunnerProfile;
  caps: Caps;
  placement: Placement;
  /** A registration an earlier try minted but could not start a sandbox for: reused, not minted again. */
  minted?: MintedRunner;
}

/** How a job's time here ended. */
export type FinishedKind = "refused" | "failed" | "already-served" | "not-queued" | "forgotten";

interface Common {
  job: JobRef;
  /** When the job was handed to the dispatcher (epoch ms). */
  enqueuedAt: number;
  /** When the job entered this state (epoch ms). */
  since: number;
  /** Policy refused this job before: a refusal again is not reported again. */
  refusedBefore: boolean;
  /** The job came here first in a queued webhook (see still-queued-check.ts); false for a reconcile pass or a retry. */
  fromQueuedWebhook: boolean;
}

export type JobState =
  | (Common & { state: "planning"; attemptNumber: number })
  | (Common & { state: "waiting"; for: Exclude<WaitingFor, "retry">; attempt: Attempt; reason: string | undefined })
  /** Looked at again (planned anew) at `until`. */
  | (Common & { state: "waiting"; for: "retry"; attempt: Attempt; reason: string; until: number })
  | (Common & { state: "registering"; attempt: Attempt })
  | (Common & { state: "creating"; attempt: Attempt; runnerName: string })
  | (Common & { state: "running"; attempt: Attempt; runnerName: string; sandboxId: string })
  | (Common & { state: "finished"; kind: FinishedKind; reason: string | undefined; retryable: boolean; profile: string | undefined });

export type StateName = JobState["state"];
export type Planning = Extract<JobState, { state: "planning" }>;

/** States in which the dispatcher is still working on the job (a redelivery must not start a second attempt). */
export function isActive(state: JobState | undefined): boolean {
  return state !== undefined && state.state !== "running" && state.state !== "finished";
}

/** Active and holding a dispatch slot. */
export function holdsSlot(state: JobState): boolean {
  return state.state === "registering" || state.state === "creating";
}

/** What `idle()` waits for: work that goes on by itself (a cap, Modal or a retry timer aside). */
export function isBusy(state: JobState): boolean {
  return state.state === "planning" || holdsSlot(state) || (state.state === "waiting" && (state.for === "slot" || state.for === "budget"));
}

/**
 * A job handed to the dispatcher: it is planned first. `previous` is what this replica remembers of it;
 * `viaQueuedWebhook` when a queued webhook brought it (rather than a reconcile pass).
 */
export function enqueued(
  job: JobRef,
  attemptNumber: number,
  now: number,
  previous: JobState | undefined,
  viaQueuedWebhook = false,
): Planning {
  const refusedBefore = previous?.refusedBefore === true || (previous?.state === "finished" && previous.kind === "refused");
  const fromQueuedWebhook = viaQueuedWebhook && previous === undefined;
  return { job, enqueuedAt: now, since: now, refusedBefore, fromQueuedWebhook, state: "planning", attemptNumber };
}

/** Planned: the job waits for its turn (a slot, its budget, the caps, Modal). */
export function planned(from: JobState, attempt: Attempt, now: number): JobState {
  return { ...common(from, now), state: "waiting", for: "slot", attempt, reason: undefined };
}

/** Still waiting, now for `what` (the same object when nothing changed, so nothing is reported twice). */
export function waitingFor(
  from: JobState & { state: "waiting"; for: Exclude<WaitingFor, "retry"> },
  what: Exclude<WaitingFor, "retry">,
  reason: string | undefined,
  now: number,
): JobState {
  if (from.for === what && from.reason === reason) return from;
  return { ...common(from, now), state: "waiting", for: what, attempt: from.attempt, reason };
}

/** Given a slot (and a reserved cap slot): the registration starts. */
export function registering(from: JobState, attempt: Attempt, now: number): JobState {
  return { ...common(from, now), state: "registering", attempt };
}

/** The runner is registered (or a kept registration is reused): the sandbox is being created. */
export function creating(from: JobState & { attempt: Attempt }, runnerName: string, now: number): JobState {
  return { ...common(from, now), state: "creating", attempt: from.attempt, runnerName };
}

/** Modal cannot take the sandbox now: the job waits for it, keeping any registration it minted. */
export function waitingForModal(
  from: JobState & { attempt: Attempt },
  minted: MintedRunner | undefined,
  reason: string,
  now: number,
): JobState {
  return { ...common(from, now), state: "waiting", for: "modal", attempt: { ...from.attempt, minted }, reason };
}

/** What one serve's outcome makes of the job. */
export function served(from: JobState & { attempt: Attempt }, outcome: ServeOutcome, now: number, retryAt?: number): JobState {
  const base = common(from, now);
  switch (outcome.kind) {
    case "started":
      return { ...base, state: "running", attempt: from.attempt, runnerName: outcome.runnerName, sandboxId: outcome.sandboxId };
    case "already-served":
      return {
        ...base,
        state: "finished",
        kind: "already-served",
        reason: outcome.reason,
        retryable: false,
        profile: from.attempt.profile.name,
      };
    case "not-queued":
      return {
        ...base,
        state: "finished",
        kind: "not-queued",
        reason: `the job is ${outcome.status}`,
        retryable: false,
        profile: from.attempt.profile.name,
      };
    case "retry-later":
      return {
        ...base,
        state: "waiting",
        for: "retry",
        attempt: from.attempt,
        reason: outcome.reason,
        until: retryAt ?? now + outcome.delayMs,
      };
  }
}

/** Another replica of the fleet holds the job's claim: it is being served there. */
export function claimedElsewhere(from: JobState, now: number): JobState {
  return {
    ...common(from, now),
    state: "finished",
    kind: "already-served",
    reason: "claimed by another replica",
    retryable: false,
    profile: undefined,
  };
}

/** The fleet's caps (in Redis) have no slot for the job after all: it waits for capacity again. */
export function waitingForFleetCap(from: JobState & { attempt: Attempt }, reason: string, now: number): JobState {
  return { ...common(from, now), state: "waiting", for: "capacity", attempt: from.attempt, reason };
}

/** The try failed (policy could not be read, GitHub or Modal failed for good): the reconciler retries. */
export function failed(from: JobState, reason: string, retryable: boolean, now: number): JobState {
  const profile = "attempt" in from ? from.attempt.profile.name : undefined;
  return { ...common(from, now), state: "finished", kind: "failed", reason, retryable, profile };
}

/** Policy refuses the job. */
export function refused(from: JobState, reason: string, now: number): JobState {
  return { ...common(from, now), state: "finished", kind: "refused", reason, retryable: false, profile: undefined, refusedBefore: true };
}

/** The job is over (completed or cancelled at GitHub) while it waited or after it failed: nothing more to do. */
export function forgotten(from: JobState, now: number): JobState {
  const profile = "attempt" in from ? from.attempt.profile.name : from.state === "finished" ? from.profile : undefined;
  return { ...common(from, now), state: "finished", kind: "forgotten", reason: "the job is over", retryable: false, profile };
}

function common(from: JobState, now: number) {
  return {
    job: from.job,
    enqueuedAt: from.enqueuedAt,
    since: now,
    refusedBefore: from.refusedBefore,
    fromQueuedWebhook: from.fromQueuedWebhook,
  };
}
