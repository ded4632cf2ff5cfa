// What the reconciler last read of each active run's queued jobs, so that the cost
// of a pass grows with what changed, not with how many runs are active. A pass
// reads a run's jobs on a full sweep, and otherwise only when the run changed since
// (its updated_at moves whenever one of its jobs is created, starts or finishes)
// and something says a job of it may be unserved:
// - a queued run (none of its jobs has started) older than UNSERVED_JOB_GRACE;
// - a run in progress whose last read found queued jobs.
// A run younger than the grace holds no job the reconciler may serve yet; a run in
// progress that had no queued job gets one only through a webhook (a later job of
// the workflow), whose loss the redelivery of failed deliveries, and then the full
// sweep, make good.
// The cost of a pass then grows with what changed, not with how many runs are
// active. A job remembered as queued that has started meanwhile is harmless: the
// dispatcher looks the job up before it serves it. Runs no longer active are
// forgotten, and the memory is bounded.
import { BoundedMap } from "../lib/bounded.js";
import type { JobRef } from "../model/job.js";
import type { ActiveRun } from "../github/repositories.js";

const MAX_RUNS = 20_000;

export class RunJobsMemory {
  readonly #runs = new BoundedMap<number, { updatedAt: string; queued: JobRef[] }>(MAX_RUNS);

  /**
   * The queued jobs of a repository's active runs: remembered for unchanged runs,
   * read with `read` for the others (all of them when `refresh`).
   */
  async queuedJobs(
    runs: ActiveRun[],
    read: (runId: number) => Promise<JobRef[]>,
    options: { refresh: boolean; youngerThan: number },
  ): Promise<{ jobs: JobRef[]; reads: number }> {
    const jobs: JobRef[] = [];
    let reads = 0;
    await Promise.all(
      runs.map(async (run) => {
        const known = this.#runs.get(run.id);
        if (!options.refresh && known?.updatedAt === run.updatedAt) {
          jobs.push(...known.queued);
          return;
        }
        if (!options.refresh) {
          if (Date.parse(run.createdAt) > options.youngerThan) return;
          if (run.status === "in_progress" && !(known && known.queued.length > 0)) return;
        }
        const queued = await read(run.id);
        reads++;
        this.#runs.set(run.id, { updatedAt: run.updatedAt, queued });
        jobs.push(...queued);
      }),
    );
    return { jobs, reads };
  }

  /** Runs of the repository that are no longer active are forgotten. */
  forgetInactive(activeRunIds: Iterable<number>, repositoryRunIds: Iterable<number>): void {
    const active = new Set(activeRunIds);
    for (const id of repositoryRunIds) if (!active.has(id)) this.#runs.delete(id);
  }
}
