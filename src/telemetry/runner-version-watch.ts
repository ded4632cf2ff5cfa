// Keeps the App's view of GitHub's latest runner release (read through the App's
// client, at most once a day) next to the runner version in the images it builds,
// for the status page, the doctor, the metric and the sandboxes: a runner may skip
// its self-update only when its image is known to be current.
import type { Logger } from "pino";
import type { RunnerRelease } from "../github/runner-releases.js";
import { describeFailure } from "../lib/errors.js";
import { runnerCurrency, type RunnerCurrency } from "./runner-currency.js";

const DAY_MS = 86_400_000;
/** After a failed read, the next try waits this long (GitHub may be down; the answer is not urgent). */
const RETRY_MS = 600_000;

export interface RunnerVersionWatchOptions {
  /** The runner version pinned in docker/runner/versions.env. */
  pinned: string;
  read: () => Promise<RunnerRelease>;
  now: () => number;
  log: Logger;
  ttlMs?: number;
}

export class RunnerVersionWatch {
  #release: RunnerRelease | undefined;
  #readAt: number | undefined;
  #failedAt: number | undefined;
  #reading: Promise<RunnerRelease | undefined> | undefined;
  /** The version the App's runner images hold: the pinned one, or a newer release they were built for. */
  #imageVersion: string;

  constructor(private readonly options: RunnerVersionWatchOptions) {
    this.#imageVersion = options.pinned;
  }

  /** The latest release as last read, reading again first when the answer is a day old. */
  refresh(): Promise<RunnerRelease | undefined> {
    const now = this.options.now();
    const fresh = this.#readAt !== undefined && now - this.#readAt < (this.options.ttlMs ?? DAY_MS);
    const resting = this.#failedAt !== undefined && now - this.#failedAt < RETRY_MS;
    if (fresh || resting) return Promise.resolve(this.#release);
    this.#reading ??= this.options
      .read()
      .then(
        (release) => {
          this.#release = release;
          this.#readAt = this.options.now();
          this.#failedAt = undefined;
          return release;
        },
        (error: unknown) => {
          this.#failedAt = this.options.now();
          this.options.log.warn({ reason: describeFailure(error).reason }, "could not read the latest Actions runner release");
          return this.#release;
        },
      )
      .finally(() => (this.#reading = undefined));
    return this.#reading;
  }

  /**
   * The verdict from what is known now. Where people look (the status page, a
   * metrics scrape) a stale answer starts a read in the background; elsewhere
   * (each sandbox's start) `refresh: false` costs no request.
   */
  currency({ refresh = true }: { refresh?: boolean } = {}): RunnerCurrency {
    if (refresh) void this.refresh();
    return runnerCurrency(this.#imageVersion, this.#release, this.options.now());
  }

  get pinned(): string {
    return this.options.pinned;
  }

  /** The runner images were built for this release (RUNNER_VERSION=latest). */
  builtFor(version: string): void {
    this.#imageVersion = version;
  }
}
