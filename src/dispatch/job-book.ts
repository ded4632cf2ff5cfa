// The one map of job states (job-state.ts), bounded: jobs the dispatcher still works
// on are always kept; of those it is done with (running, finished) it remembers the
// most recent `limit`, so weeks of jobs do not grow memory while a refusal is still
// reported once and a reconcile pass can still tell a job served a moment ago.
import { isActive, type JobState } from "./job-state.js";

export class JobBook {
  readonly #states = new Map<number, JobState>();
  /** Done jobs in the order they were done, with the state object then set (a later state replaces it). */
  #done: JobState[] = [];
  #doneHead = 0;
  #doneCount = 0;

  constructor(private readonly limit: number) {}

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
