// The dispatcher's last outcome records, as plain data: a small ring, newest first,
// for tests and debugging (the status page tells each job's whole story instead; see
// job-stories.ts). Memory is bounded whatever the job rate.

export interface JobOutcome {
  at: string;
  jobId: number;
  /** owner/name */
  repo: string;
  /** The dispatcher's outcome kind (started, refused, waiting, failed…). */
  kind: string;
  reason?: string;
}

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
