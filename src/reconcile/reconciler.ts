// The reconcile loop: observe → plan → repair, at start-up, on a timer, and on
// demand (HTTP, CLI, a job completed that may leave a runner idle, an installation
// removed). One pass at a time per replica; several replicas may reconcile at once,
// since every repair is idempotent. Each pass logs one summary line; each repair
// logs one line. What a pass leaves unresolved stays on the watch list for the next
// ones. Asking GitHub to redeliver failed deliveries runs beside the passes (one
// round at a time), never inside one: a slow delivery log does not delay repairs.
import type { Logger } from "pino";
import { systemClock, type Clock } from "../lib/clock.js";
import { describeFailure } from "../lib/errors.js";
import { PRIORITY_HEADER } from "../github/budget-requests.js";
import type { RedeliverySummary } from "../github/redeliver-failed-deliveries.js";
import type { AppOctokit } from "../github/create-octokit-class.js";
import type { Fleet } from "../modal/fleet.js";
import { applyRepair, type RepairDeps } from "./apply-repair.js";
import type { Observation, ObservedWorld } from "./observation.js";
import { Assignments } from "./assignments.js";
import type { JobRef } from "../model/job.js";
import type { RunnerScopes } from "../github/resolve-runner-scope.js";
import { ModalUnobservable, Observer } from "./observe.js";
import type { RepositoryDirectory } from "./repository-directory.js";
import { planRepairs, type PlanSettings, type RepairKind } from "./plan-repairs.js";
import { WatchList } from "./watch-list.js";

/** The reconciler's options, by concern: GitHub, Modal, the dispatcher's jobs, what it reports, its pace, its plan. */
export interface ReconcilerOptions {
  github: {
    /** An installation's client (reconcile calls are background requests in its budget). */
    octokitFor: (installationId: number) => Promise<AppOctokit>;
    /** The App's own (JWT) client, to list installations and failed deliveries. */
    appOctokit: () => Promise<AppOctokit>;
    scopes: RunnerScopes;
    directory: RepositoryDirectory;
    /** Asks GitHub to redeliver workflow_job deliveries that failed since the last pass (see redeliver-failed-deliveries.ts). */
    redeliver?: (app: AppOctokit) => Promise<RedeliverySummary>;
  };
  fleet: Fleet;
  /** The dispatcher's side: which jobs it serves and is serving, and serving one again. */
  jobs: {
    /** Jobs whose dispatch failed or that wait here: their repositories are swept. */
    unserved: () => JobRef[];
    /** Jobs whose dispatch is in flight, or ended at or after `since` (epoch ms), of these queued ones and any this replica dispatches: they are being served (fleet-wide when claims are shared). */
    dispatching: (since: number, queued: number[]) => number[] | Promise<number[]>;
    /** Whether the App serves a queued job (label, operator policy, a profile that fits). */
    wanted: (job: JobRef) => boolean;
    /** Starts reading an account's own policy file ahead of its jobs, in the background (full sweeps). */
    prefetchOrgPolicy?: (octokit: AppOctokit, owner: string) => void;
    serve: RepairDeps["serve"];
    checkAssignment: RepairDeps["checkAssignment"];
  };
  /** What a pass tells the rest of the App. */
  report: {
    /** A sandbox the pass terminated ended. */
    ended: RepairDeps["ended"];
    /** Every observation (the capacity count is refreshed from it). */
    observed?: (world: ObservedWorld) => void;
    /** Every pass's summary (metrics). */
    passed?: (summary: PassSummary) => void;
  };
  /** The pace: how often passes and full sweeps run, and how long a repository stays active after an event. */
  schedule: {
    intervalMs: number;
    fullSweepIntervalMs: number;
    /** Whether this replica runs a full sweep now (a fleet runs one per interval, whoever takes the lease); default: yes. */
    fullSweepLease?: () => Promise<boolean>;
    /** Whether this replica asks GitHub to redeliver this interval (a fleet asks once); default: yes. */
    redeliveryTurn?: () => Promise<boolean>;
    activeRepositoryWindowMs: number;
  };
  /** The plan's settings (the runner name prefix and grace periods, also used to observe). */
  plan: PlanSettings;
  log: Logger;
  now: () => number;
  /** The interval's and soon()'s timers (default: the system clock's); tests advance a manual one. */
  clock?: Pick<Clock, "setTimeout" | "clearTimeout">;
}

export interface PassSummary {
  reason: string;
  full: boolean;
  ok: boolean;
  /** Why the pass could not observe the world (when not ok). */
  problem?: string;
  durationMs: number;
  checked: { sandboxes: number; runners: number; repositories: number; queuedJobs: number; assignments: number; watched: number };
  repaired: Partial<Record<RepairKind, number>>;
  leftAlone: number;
  failed: number;
  /** Failed deliveries GitHub was asked to deliver again by redelivery rounds that ended since the last pass. */
  redelivered: number;
  apiCalls: { github: number; modal: number };
}

/** How long to wait before a pass asked for by a webhook, so a burst of them makes one pass. */
const SOON_MS = 1000;

export class Reconciler {
  /** What passes saw and did not resolve: watched by the next passes. */
  readonly watch = new WatchList();
  /** Which job each of our busy runners runs (in_progress events feed it too). */
  readonly assignments = new Assignments();
  readonly #observer: Observer;
  readonly #repairDeps: RepairDeps;
  #redelivering: Promise<void> | undefined;
  #redelivered = 0;
  #running: Promise<PassSummary> | undefined;
  #next: { full: boolean; reason: string; pass: Promise<PassSummary> } | undefined;
  readonly #clock: Pick<Clock, "setTimeout" | "clearTimeout">;
  #timer: unknown;
  #soon: unknown;
  #lastFullSweep = 0;
  #githubCalls = 0;
  readonly #counted = new WeakSet<object>();

  constructor(private readonly options: ReconcilerOptions) {
    this.#clock = options.clock ?? systemClock;
    this.#observer = new Observer({
      fleet: options.fleet,
      scopes: options.github.scopes,
      directory: options.github.directory,
      unservedJobs: options.jobs.unserved,
      wanted: options.jobs.wanted,
      ...(options.jobs.prefetchOrgPolicy && { prefetchOrgPolicy: options.jobs.prefetchOrgPolicy }),
      namePrefix: options.plan.namePrefix,
      activeRepositoryWindowMs: options.schedule.activeRepositoryWindowMs,
      intervalMs: options.schedule.intervalMs,
      unservedJobGraceMs: options.plan.unservedJobGraceMs,
      log: options.log,
      watch: this.watch,
      assignments: this.assignments,
      octokitFor: (id) => this.#octokitFor(id),
      appOctokit: async () => this.#count(await options.github.appOctokit()),
    });
    this.#repairDeps = {
      fleet: options.fleet,
      octokitFor: (id) => this.#octokitFor(id),
      serve: options.jobs.serve,
      checkAssignment: options.jobs.checkAssignment,
      ended: options.report.ended,
      log: options.log,
    };
  }

  /** A pass now (a full sweep at start-up), then one every interval. */
  start(): void {
    void this.run({ full: true, reason: "start-up" });
    if (this.options.schedule.intervalMs > 0) this.#every(this.options.schedule.intervalMs);
  }

  /** An interval as a chain of timeouts (a Clock has no setInterval): the next is armed before this one's pass. */
  #every(ms: number): void {
    this.#timer = this.#clock.setTimeout(() => {
      this.#every(ms);
      void this.run({ reason: "interval" });
    }, ms);
  }

  stop(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    if (this.#soon !== undefined) this.#clock.clearTimeout(this.#soon);
    this.#timer = undefined;
    this.#soon = undefined;
  }

  /**
   * A pass shortly (debounced), e.g. after a job completed without one of our runners;
   * a full sweep when any request asks for one (an installation unsuspended).
   */
  soon(reason: string, options: { full?: boolean } = {}): void {
    this.#soonFull ||= options.full === true;
    if (this.#soon !== undefined) return;
    this.#soon = this.#clock.setTimeout(() => {
      this.#soon = undefined;
      const full = this.#soonFull;
      this.#soonFull = false;
      void this.run({ reason, full });
    }, SOON_MS);
  }

  #soonFull = false;

  /**
   * Runs a pass. While one runs, requests are folded into a single pass after it.
   * A pass is a full sweep when asked, or when the last one is FULL_SWEEP_INTERVAL old.
   */
  run(request: { full?: boolean; reason: string }): Promise<PassSummary> {
    // Whether a sweep is due is decided when the pass starts: a pass folded behind a
    // full sweep (the start-up one) is not a second full sweep.
    const due = () => this.options.now() - this.#lastFullSweep >= this.options.schedule.fullSweepIntervalMs;
    if (!this.#running) return this.#start(request.full === true || due(), request.reason);
    if (!this.#next) {
      const folded = { full: false, reason: request.reason };
      const pass = this.#running.then(() => {
        this.#next = undefined;
        return this.#start(folded.full || due(), folded.reason);
      });
      this.#next = Object.assign(folded, { pass });
    }
    this.#next.full ||= request.full === true;
    return this.#next.pass;
  }

  #start(full: boolean, reason: string): Promise<PassSummary> {
    const pass = this.#pass(full, reason).finally(() => {
      if (this.#running === pass) this.#running = undefined;
    });
    this.#running = pass;
    return pass;
  }

  /** Resolves when no pass and no redelivery round is running. */
  async idle(): Promise<void> {
    while (this.#running || this.#redelivering) await Promise.all([this.#running, this.#redelivering]);
  }

  async #pass(full: boolean, reason: string): Promise<PassSummary> {
    const { options } = this;
    const started = options.now();
    const github = this.#githubCalls;
    const modal = options.fleet.calls;
    const summary: PassSummary = {
      reason,
      full,
      ok: true,
      durationMs: 0,
      checked: { sandboxes: 0, runners: 0, repositories: 0, queuedJobs: 0, assignments: 0, watched: 0 },
      repaired: {},
      leftAlone: 0,
      failed: 0,
      redelivered: 0,
      apiCalls: { github: 0, modal: 0 },
    };
    this.#startRedelivery();
    try {
      if (full && options.schedule.fullSweepLease && !(await options.schedule.fullSweepLease())) {
        // Another replica of the fleet sweeps this interval.
        full = false;
        summary.full = false;
        this.#lastFullSweep = started;
      }
      const observed = await this.#observer.observe(started, full);
      // A full sweep that could not list the installations swept only what a quick pass sweeps.
      if (full && !observed.problem) this.#lastFullSweep = started;
      if (observed.problem) {
        summary.problem = observed.problem;
        if (full) summary.ok = false;
        options.log.error({ reason: observed.problem }, "reconcile pass could not observe part of GitHub; it repairs what it saw");
      }
      options.report.observed?.(observed);
      summary.failed += observed.errors;
      summary.checked = {
        sandboxes: observed.sandboxes.length,
        runners: observed.runners.length,
        repositories: observed.scannedRepositories.length,
        queuedJobs: observed.queuedJobs.length,
        assignments: 0,
        watched: this.watch.size,
      };
      // Asked now, not at observation time: a dispatch that ended while the pass
      // observed may have made a registration or sandbox the observation missed.
      const dispatching = options.jobs.dispatching(
        observed.now,
        observed.queuedJobs.map((job) => job.id),
      );
      // Only a fleet's answer (claims in Redis) is awaited: one process's is at hand.
      const world: Observation = { ...observed, dispatching: Array.isArray(dispatching) ? dispatching : await dispatching };
      for (const repair of planRepairs(world, options.plan)) {
        try {
          const result = await applyRepair(repair, this.#repairDeps);
          if (repair.kind === "check-assignment") {
            this.assignments.checked(repair.runnerName);
            summary.checked.assignments++;
          } else if (result === "done") summary.repaired[repair.kind] = (summary.repaired[repair.kind] ?? 0) + 1;
          else summary.leftAlone++;
        } catch (error) {
          summary.failed++;
          options.log.warn(
            { repair: repair.kind, reason: describeFailure(error).reason },
            "reconcile: repair failed; the next pass tries again",
          );
        }
      }
    } catch (error) {
      summary.ok = false;
      summary.failed++;
      summary.problem =
        error instanceof ModalUnobservable ? error.message : `could not observe the world: ${describeFailure(error).reason}`;
      options.log.error({ reason: summary.problem }, "reconcile pass could not observe the world; nothing was changed");
    }
    summary.redelivered = this.#redelivered;
    this.#redelivered = 0;
    summary.durationMs = options.now() - started;
    summary.apiCalls = { github: this.#githubCalls - github, modal: options.fleet.calls - modal };
    options.log.info(summary, "reconcile pass");
    options.report.passed?.(summary);
    return summary;
  }

  /** Starts a redelivery round beside the pass, unless one still runs. */
  #startRedelivery(): void {
    if (!this.options.github.redeliver || this.#redelivering) return;
    this.#redelivering = this.#redeliver().finally(() => (this.#redelivering = undefined));
  }

  /** Deliveries that never reached the App come back through GitHub, not a full sweep. */
  async #redeliver(): Promise<void> {
    const { redeliver, appOctokit } = this.options.github;
    const { redeliveryTurn } = this.options.schedule;
    if (!redeliver) return;
    try {
      if (redeliveryTurn && !(await redeliveryTurn())) return;
      const result = await redeliver(this.#count(await appOctokit()));
      this.#redelivered += result.requested;
      if (result.requested > 0)
        this.options.log.info(
          { requested: result.requested, skipped: result.skipped },
          "reconcile: asked GitHub to redeliver failed webhook deliveries",
        );
      for (const failure of result.failures)
        this.options.log.warn({ reason: failure }, "reconcile: GitHub refused a redelivery; asking again later");
    } catch (error) {
      this.options.log.warn(
        { reason: describeFailure(error).reason },
        "reconcile: could not read the App's delivery log; the next pass tries again",
      );
    }
  }

  async #octokitFor(installationId: number): Promise<AppOctokit> {
    return this.#count(await this.options.github.octokitFor(installationId));
  }

  /**
   * Counts the requests of a client towards the passes' API cost, and makes them
   * background requests: the installation's budget serves dispatch first.
   */
  #count(octokit: AppOctokit): AppOctokit {
    if (!this.#counted.has(octokit)) {
      this.#counted.add(octokit);
      octokit.hook.before("request", (options) => {
        this.#githubCalls++;
        options.headers = { ...options.headers, [PRIORITY_HEADER]: "background" };
      });
    }
    return octokit;
  }
}
