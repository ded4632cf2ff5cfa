// Which job each of our busy runners runs, and since when it has been busy. GitHub's
// runner list says a runner is busy, not with what: the job comes from the
// workflow_job.in_progress event when it arrived, else from the run's jobs (their
// runner_name), read by the pass that found the runner busy. The pass checks each
// assignment against policy once (the event's handler checks the ones it saw), so a
// lost in_progress event cannot let a refused job run. The busy time also decides
// how long a sandbox of an installation that is gone may finish its job (no token
// is left to ask GitHub then). A cache: a restart forgets it, and the next pass
// learns it again where GitHub can still be asked.
import { BoundedMap } from "../lib/bounded.js";
import type { JobRef } from "../model/job.js";

const MAX_ASSIGNMENTS = 20_000;

export interface Assignment {
  runnerName: string;
  /** The job the runner took; undefined when only its busy flag is known. */
  job: JobRef | undefined;
  /** Epoch ms since when the runner has been known busy. */
  since: number;
  /** When this App learned it (epoch ms). */
  notedAt: number;
  /** Whether the job has been checked against policy (by the event's handler or a pass). */
  checked: boolean;
}

export class Assignments {
  readonly #byRunner = new BoundedMap<string, Assignment>(MAX_ASSIGNMENTS);

  /** The runner took `job` (an in_progress event, or a pass that found it in the run's jobs). */
  took(runnerName: string, job: JobRef | undefined, at: number, notedAt: number, checked: boolean): void {
    const known = this.#byRunner.get(runnerName);
    if (known?.job && job && known.job.id === job.id) return;
    this.#byRunner.set(runnerName, { runnerName, job, since: known?.since ?? at, notedAt, checked });
  }

  /** The runner's job is over (a completed event). */
  ended(runnerName: string): void {
    this.#byRunner.delete(runnerName);
  }

  checked(runnerName: string): void {
    const known = this.#byRunner.get(runnerName);
    if (known) known.checked = true;
  }

  get(runnerName: string): Assignment | undefined {
    return this.#byRunner.get(runnerName);
  }

  /**
   * A pass listed runners at `readAt`: a runner listed idle, or gone from a listed
   * scope, runs nothing (unless an event noted its job after the list was read).
   */
  listed(runners: Iterable<{ name: string; busy: boolean }>, absent: Iterable<string>, readAt: number): void {
    for (const runner of runners) {
      const known = this.#byRunner.get(runner.name);
      if (!runner.busy && known && known.notedAt < readAt) this.#byRunner.delete(runner.name);
    }
    for (const name of absent) if ((this.#byRunner.get(name)?.notedAt ?? Infinity) < readAt) this.#byRunner.delete(name);
  }

  runnerNames(): string[] {
    return [...this.#byRunner.keys()];
  }

  /** Busy since when, by runner name. */
  busySince(): Record<string, number> {
    return Object.fromEntries([...this.#byRunner.values()].map((assignment) => [assignment.runnerName, assignment.since]));
  }
}
