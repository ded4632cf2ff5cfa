// The one map of job states (job-state.ts), bounded: jobs the dispatcher still works
// on are always kept; of those it is done with (running, finished) it remembers the
// most recent `limit`, so weeks of jobs do not grow memory while a refusal is still
// reported once and a reconcile pass can still tell a job served a moment ago.
// The dispatcher writes it; the reconciler and telemetry read it through the
// queries below (the composition root hands the same book to all three).
import { oldestFirst, type JobRef } from "../model/job.js";
import { isActive, type JobState } from "./job-state.js";

/** Jobs remembered once the dispatcher is done with them (refused, failed, served): a day of a busy org. */
export const MAX_REMEMBERED = 10_000;

export interface UnservedJob {
  job: JobRef;
  reason: string;
  retryable: boolean;
  at: number;
}

/** A job being handled here, as the status page and the job gauge count it. */
export interface HandledJob {
  job: JobRef;
  state: "waiting" | "dispatching";
  profile: string | undefined;
}

export class JobBook {
  readonly #states = new Map<number, JobState>();
  /** Done jobs in the order they were done, with the state object then set (a later state replaces it). */
  #done: JobState[] = [];
  #doneHead = 0;
  #doneCount = 0;

  constructor(private readonly limit = MAX_REMEMBERED) {}

  /** Jobs whose dispatch is in flight, waiting, or ended at or after `since`. */
  dispatching(since: number): number[] {
    const ids: number[] = [];
    for (const state of this.#states.values()) if (isActive(state) || state.since >= since) ids.push(state.job.id);
    return ids;
  }

  /** Jobs whose last attempt failed, for the reconciler. */
  unserved(): UnservedJob[] {
    const unserved: UnservedJob[] = [];
    for (const state of this.#states.values()) {
      if (state.state === "finished" && state.kind === "failed")
        unserved.push({ job: state.job, reason: state.reason ?? "failed", retryable: state.retryable, at: state.since });
    }
    return unserved;
  }

  /** Jobs waiting (for a slot, their budget, a cap, Modal or a retry), oldest first. */
  waiting(): JobRef[] {
    const jobs: JobRef[] = [];
    for (const state of this.#states.values()) if (state.state === "waiting") jobs.push(state.job);
    return jobs.sort(oldestFirst);
  }

  /** Jobs being handled here, by state, with the profile chosen for them (once known). */
  handled(): HandledJob[] {
    const jobs: HandledJob[] = [];
    for (const state of this.#states.values()) {
      if (!isActive(state)) continue;
      jobs.push({
        job: state.job,
        state: state.state === "waiting" ? "waiting" : "dispatching",
        profile: "attempt" in state ? state.attempt.profile.name : undefined,
      });
    }
    return jobs;
  }

  get(jobId: number): JobState | undefined {
    return this.#states.get(jobId);
  }

  values(): IterableIterator<JobState> {
    return this.#states.values();
  }

  set(state: JobState): void {
    const before = this.#states.get(state.job.id);
    if (before && !isActive(before)) this.#doneCount--;
    this.#states.set(state.job.id, state);
    if (isActive(state)) return;
    this.#doneCount++;
    this.#done.push(state);
    while (this.#doneCount > this.limit && this.#doneHead < this.#done.length) {
      const oldest = this.#done[this.#doneHead++]!;
      // Only if that is still the job's state: a job enqueued again since has moved on.
      if (this.#states.get(oldest.job.id) === oldest) {
        this.#states.delete(oldest.job.id);
        this.#doneCount--;
      }
    }
    // Entries a later state replaced are skipped above; drop them now and then so
    // a job done again and again (a pass re-serving it) does not grow the list.
    if (this.#done.length - this.#doneHead > 2 * this.limit + 1024) {
      this.#done = this.#done.slice(this.#doneHead).filter((entry) => this.#states.get(entry.job.id) === entry);
      this.#doneHead = 0;
    } else if (this.#doneHead > 1024 && this.#doneHead * 2 > this.#done.length) {
      this.#done = this.#done.slice(this.#doneHead);
      this.#doneHead = 0;
    }
  }
}
