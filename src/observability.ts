// What the App tells people about itself: metrics, the status page's snapshot, the
// cost of each sandbox, the last outcomes. Part of the composition root: it
// subscribes to the parts' outcomes (dispatch, webhooks, reconcile passes) and
// turns them into plain data for src/observe/, which imports nothing above it.
import type { Logger } from "pino";
import type { RunnerConfig } from "./model/runner-profile.js";
import type { Dispatcher, OutcomeRecord } from "./dispatch/dispatcher.js";
import { fullName } from "./model/job.js";
import type { RequestBudgets } from "./github/request-budgets.js";
import type { CircuitBreaker } from "./modal/circuit-breaker.js";
import { buildStatusSnapshot, countJobs } from "./observe/build-status-snapshot.js";
import { priceTable } from "./observe/cost.js";
import { Metrics } from "./observe/metrics.js";
import { OutcomeLog } from "./observe/outcome-log.js";
import { SandboxLedger } from "./observe/sandbox-ledger.js";
import { SpendToday } from "./observe/spend-today.js";
import type { ReconcilePassStatus, StatusFleet, StatusSnapshot } from "./observe/status-snapshot.js";
import type { Observation } from "./reconcile/observation.js";
import type { PassSummary } from "./reconcile/reconciler.js";
import type { RepositoryDirectory } from "./reconcile/repository-directory.js";
import type { RunnerEvent } from "./webhooks/on-workflow-job.js";

export interface ObservabilitySources {
  config: RunnerConfig;
  dispatcher: () => Dispatcher;
  sandboxesCounted: () => number;
  budgets: RequestBudgets;
  /** The fleet of replicas (REDIS_URL), for the status page. */
  fleet?: () => StatusFleet | undefined;
  breaker: () => CircuitBreaker;
  directory: RepositoryDirectory;
  log: Logger;
  now: () => number;
}

export class Observability {
  readonly metrics: Metrics;
  readonly ledger: SandboxLedger;
  readonly #outcomes = new OutcomeLog(50);
  readonly #spend: SpendToday;
  #lastPass: ReconcilePassStatus | undefined;
  #lastSuccessAt: number | undefined;
  #busyRunners = new Set<string>();

  constructor(private readonly sources: ObservabilitySources) {
    const { config, now, log } = sources;
    this.#spend = new SpendToday(now);
    this.metrics = new Metrics(
      {
        waiting: () => sources.dispatcher().waiting().length,
        sandboxes: sources.sandboxesCounted,
        jobs: () => this.#jobCounts(),
        githubBudget: () =>
          sources.budgets.all().flatMap(({ key, points }) => (key === "app" ? [] : [{ installation: String(key), points }])),
        modalBreakerOpen: () => sources.breaker().state().state === "open",
      },
      {
        now,
        replica: sources.fleet?.()?.replica,
        redis:
          sources.fleet?.() &&
          (() => ({ degraded: sources.fleet?.()?.mode === "degraded", roundTrips: sources.fleet?.()?.redisRoundTrips ?? 0 })),
      },
    );
    const profiles = new Map(config.profiles.map((profile) => [profile.name, profile]));
    this.ledger = new SandboxLedger(
      (name) => profiles.get(name),
      priceTable(config.prices),
      (ended) => {
        const labels = { installation: String(ended.installationId), profile: ended.profile };
        this.metrics.cost(labels, ended.cost.dollars);
        this.#spend.add(ended.installationId, ended.profile, ended.cost.dollars);
        log.info(
          {
            sandbox: ended.name,
            jobId: ended.jobId,
            repo: ended.repository,
            installationId: ended.installationId,
            profile: ended.profile,
            billedSeconds: ended.cost.billedSeconds,
            dollars: Number(ended.cost.dollars.toFixed(6)),
            unpricedGpu: ended.cost.unpricedGpu,
          },
          "sandbox ended",
        );
      },
      now,
    );
  }

  /** Every dispatch outcome. */
  outcome(record: OutcomeRecord): void {
    this.metrics.job(record.kind);
    this.#outcomes.add({
      at: new Date(record.at).toISOString(),
      jobId: record.job.id,
      repo: fullName(record.job.repository),
      kind: record.kind,
      reason: record.reason,
    });
    if (record.kind === "started" && record.runnerName) {
      this.ledger.started({
        name: record.runnerName,
        installationId: record.job.installationId,
        profile: record.profile ?? "",
        repository: fullName(record.job.repository),
        jobId: record.job.id,
      });
      this.metrics.sandboxCreated(
        { installation: String(record.job.installationId), profile: record.profile ?? "" },
        record.enqueuedAt,
        record.at,
      );
    }
  }

  /** Our runner took a job, or finished it. */
  runnerEvent(event: RunnerEvent): void {
    const profile = this.ledger.get(event.runnerName, event.job.installationId)?.profile ?? "unknown";
    const labels = { installation: String(event.job.installationId), profile };
    if (event.action === "in_progress" && event.job.createdAt && event.startedAt)
      this.metrics.jobStarted(labels, Date.parse(event.job.createdAt), Date.parse(event.startedAt));
    if (event.action === "completed") {
      if (event.startedAt && event.completedAt)
        this.metrics.jobCompleted(labels, Date.parse(event.startedAt), Date.parse(event.completedAt));
      this.ledger.ended(event.runnerName, event.job.installationId, fullName(event.job.repository));
    }
  }

  /** A reconcile pass saw the world. */
  observed(world: Observation): void {
    this.#busyRunners = new Set(world.runners.filter((runner) => runner.busy).map((runner) => runner.name));
    this.ledger.observed(
      world.sandboxes.flatMap((sandbox) =>
        sandbox.installationId === undefined
          ? []
          : [
              {
                name: sandbox.name,
                installationId: sandbox.installationId,
                profile: sandbox.profile ?? "",
                repository: sandbox.repository,
                jobId: sandbox.jobId,
                createdAt: sandbox.createdAt,
              },
            ],
      ),
      world.now,
    );
  }

  /** A reconcile pass ended. */
  passed(summary: PassSummary): void {
    this.metrics.pass(summary);
    const at = this.sources.now();
    this.#lastPass = {
      at: new Date(at).toISOString(),
      ok: summary.ok,
      durationMs: summary.durationMs,
      repairs: summary.repaired as Record<string, number>,
      errors: summary.failed > 0 ? [`${summary.failed} part(s) could not be read or repaired; see the log`] : [],
    };
    if (summary.ok) this.#lastSuccessAt = at;
  }

  /** The last reconcile pass, for /health. */
  get lastPass(): ReconcilePassStatus | undefined {
    return this.#lastPass;
  }

  snapshot(): StatusSnapshot {
    const { sources } = this;
    const fleet = sources.fleet?.();
    const snapshot = buildStatusSnapshot({
      now: sources.now(),
      ...this.#jobSources(),
      accounts: sources.directory.accounts(),
      budget: (id) => sources.budgets.headroom(id),
      outcomes: this.#outcomes.list(),
      lastPass: this.#lastPass,
      lastSuccessAt: this.#lastSuccessAt,
      breaker: sources.breaker().state(),
      spendToday: this.#spend.list(),
    });
    return fleet ? { ...snapshot, fleet } : snapshot;
  }

  /** What jobs and sandboxes the counts come from (the page's and the gauge's). */
  #jobSources() {
    return {
      jobs: this.sources
        .dispatcher()
        .jobs()
        .map((entry) => ({ installationId: entry.job.installationId, profile: entry.profile, state: entry.state })),
      sandboxes: this.ledger.list(),
      busyRunners: this.#busyRunners,
    };
  }

  /** The gauge's rows: one per installation, profile and state. */
  #jobCounts() {
    const states = ["waiting", "dispatching", "running"] as const;
    return countJobs(this.#jobSources()).flatMap((counts) =>
      states.map((state) => ({ installation: String(counts.installation), profile: counts.profile, state, count: counts[state] })),
    );
  }
}
