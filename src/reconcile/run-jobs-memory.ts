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
//
// The same rule says when a repository's runs in progress need listing at all
// (`runsInProgressNeeded`): only a run in progress whose last read found queued jobs
// is ever read between full sweeps, so a repository where no remembered run holds a
// queued job has nothing to learn from that listing. The listing of queued runs is
// always made (it is where a lost webhook's job shows).
import { BoundedMap } from "../lib/bounded.js";
import type { JobRef } from "../model/job.js";
import type { ActiveRun } from "../github/repositories.js";

const MAX_RUNS = 20_000;

/**
 * Whether a pass lists a repository's runs in progress (pure): on a full sweep (every
 * run is read), when a remembered run of it last held queued jobs (it may have
 * started with some still queued), or when a busy runner of ours whose job no event
 * named may run one of its jobs (found among those runs).
 */
export function runsInProgressNeeded(repository: { full: boolean; holdsQueued: boolean; unknownBusyRunner: boolean }): boolean {
  return repository.full || repository.holdsQueued || repository.unknownBusyRunner;
}

export class RunJobsMemory {
  readonly #runs = new BoundedMap<number, { updatedAt: string; queued: JobRef[] }>(MAX_RUNS);
  /** By repository key: runs whose last read found queued jobs (checked against #runs when asked). */
  readonly #queuedRuns = new BoundedMap<string, Set<number>>(MAX_RUNS);

  /** Whether a remembered run of the repository (by key) last held queued jobs. */
  holdsQueued(repository: string): boolean {
    const runs = this.#queuedRuns.get(repository);
    if (!runs) return false;
    for (const id of runs) if (!this.#runs.get(id)?.queued.length) runs.delete(id);
    if (runs.size === 0) this.#queuedRuns.delete(repository);
    return runs.size > 0;
  }

  /**
   * The queued jobs of a repository's active runs: remembered for unchanged runs,
   * read with `read` for the others (all of them when `refresh`).
   */
  async queuedJobs(
    runs: ActiveRun[],
    read: (runId: number) => Promise<JobRef[]>,
    options: {
      refresh: boolean;
      youngerThan: number;
      /**
       * The repository's key, to remember which of its runs hold queued jobs; with
       * `complete` (both its queued runs and its runs in progress were listed), its
       * remembered runs missing from `runs` are no longer active and are forgotten.
       */
      repository?: { key: string; complete: boolean };
    },
  ): Promise<{ jobs: JobRef[]; reads: number }> {
    const jobs: JobRef[] = [];
    let reads = 0;
    const { repository } = options;
    if (repository?.complete) {
      const listed = new Set(runs.map((run) => run.id));
      for (const id of this.#queuedRuns.get(repository.key) ?? []) if (!listed.has(id)) this.#runs.delete(id);
    }
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
        if (repository) this.#noteQueued(repository.key, run.id, queued.length > 0);
        jobs.push(...queued);
      }),
    );
    return { jobs, reads };
  }

  #noteQueued(repository: string, runId: number, holdsQueued: boolean): void {
    let runs = this.#queuedRuns.get(repository);
    if (holdsQueued) {
      if (!runs) this.#queuedRuns.set(repository, (runs = new Set()));
      runs.add(runId);
    } else runs?.delete(runId);
  }

  /** Runs of the repository that are no longer active are forgotten. */
  forgetInactive(activeRunIds: Iterable<number>, repositoryRunIds: Iterable<number>): void {
    const active = new Set(activeRunIds);
    for (const id of repositoryRunIds) if (!active.has(id)) this.#runs.delete(id);
  }
}
