// The last job outcomes for the status page: a small ring, newest first. Memory is
// bounded whatever the job rate; older outcomes live in the logs and metrics.
import type { JobOutcome } from "./status-snapshot.js";

export class OutcomeLog {
  readonly #entries: JobOutcome[] = [];

  constructor(private readonly size = 50) {}

  add(outcome: JobOutcome): void {
    this.#entries.unshift(outcome);
    if (this.#entries.length > this.size) this.#entries.length = this.size;
  }

  list(): JobOutcome[] {
    return this.#entries.map((x) => ({ ...x }));
  }
}
