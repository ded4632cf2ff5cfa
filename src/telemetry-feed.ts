// What the App tells people about itself: metrics, the status page's snapshot, the
// cost of each sandbox, every job's story, and whether GitHub and Modal answer. Part of the composition root: it
// subscribes to the parts' outcomes (dispatch, webhooks, reconcile passes) and
// turns them into plain data for src/telemetry/, which imports nothing above it.
import type { Logger } from "pino";
import type { RunnerConfig } from "./model/runner-profile.js";
import type { OutcomeRecord } from "./dispatch/dispatcher.js";
import type { JobBook } from "./dispatch/job-book.js";
import { fullName } from "./model/job.js";
import type { RequestBudgets } from "./github/request-budgets.js";
import type { CircuitBreaker } from "./modal/circuit-breaker.js";
import { buildStatusSnapshot, countJobs, modalReachability } from "./telemetry/build-status-snapshot.js";
import { priceTable } from "./telemetry/cost.js";
import { Metrics } from "./telemetry/metrics.js";
import { OutcomeLog, type JobOutcome } from "./telemetry/outcome-log.js";
import { DEFAULT_STORY_LIMITS, JobStories, type StoryJob } from "./telemetry/job-stories.js";
import type { GitHubReachability } from "./telemetry/github-reachability.js";
import type { GuardOutcome } from "./dispatch/guard-assignments.js";
import type { JobRef } from "./model/job.js";
import { SandboxLedger } from "./telemetry/sandbox-ledger.js";
import { SpendToday } from "./telemetry/spend-today.js";
import type { RunnerCurrency } from "./telemetry/runner-currency.js";
import type { DoctorResult, ReconcilePassStatus, StatusFleet, StatusSnapshot } from "./telemetry/status-snapshot.js";
import type { ObservedWorld } from "./reconcile/observation.js";
import type { PassSummary } from "./reconcile/reconciler.js";
import type { RepositoryDirectory } from "./reconcile/repository-directory.js";
import type { RunnerEvent } from "./webhooks/on-workflow-job.js";

export interface TelemetryFeedSources {
  config: RunnerConfig;
  /** The job-state map the dispatcher writes: what waits and what is being dispatched. */
  jobs: Pick<JobBook, "waiting" | "handled">;
  sandboxesCounted: () => number;
  budgets: RequestBudgets;
  /** The fleet of replicas (REDIS_URL), for the status page. */
  fleet?: () => StatusFleet | undefined;
  breaker: CircuitBreaker;
  directory: RepositoryDirectory;
  /** The runner version in the images against GitHub's latest release. */
  runnerVersion?: () => RunnerCurrency;
  /** Our runner names' prefix (a runner's name says which job it was made for). */
  namePrefix: string;
  /** Whether GitHub answered the App's last calls; absent: assumed reachable. */
  github?: GitHubReachability | undefined;
  /** Job stories kept: at most this many, none older than this (default 5,000 and 24 h). */
  storyLimits?: { maxJobs: number; maxAgeMs: number };
  log: Logger;
  now: () => number;
}

const storyJob = (job: JobRef): StoryJob => ({
  id: job.id,
  runId: job.runId,
  name: job.name,
  repo: fullName(job.repository),
  installationId: job.installationId,
  createdAt: job.createdAt,
});

export class TelemetryFeed {
  readonly metrics: Metrics;
  readonly ledger: SandboxLedger;
  readonly stories: JobStories;
  readonly #outcomes = new OutcomeLog(50);
  #doctor: DoctorResult[] | undefined;
  readonly #spend: SpendToday;
  #lastPass: ReconcilePassStatus | undefined;
  #lastSuccessAt: number | undefined;
  #busyRunners = new Set<string>();

  constructor(private readonly sources: TelemetryFeedSources) {
    const { config, now, log } = sources;
    this.#spend = new SpendToday(now);
    this.stories = new JobStories({ ...DEFAULT_STORY_LIMITS, ...sources.storyLimits, namePrefix: sources.namePrefix });
    this.metrics = new Metrics(
      {
        waiting: () => sources.jobs.waiting().length,
        sandboxes: sources.sandboxesCounted,
        jobs: () => this.#jobCounts(),
        githubBudget: () =>
          sources.budgets.all().flatMap(({ key, points }) => (key === "app" ? [] : [{ installation: String(key), points }])),
        modalBreakerOpen: () => sources.breaker.state().state === "open",
        runnerVersion: sources.runnerVersion,
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
        this.stories.record(
          { kind: "cost", runnerName: ended.name, installationId: ended.installationId, dollars: ended.cost.dollars },
          now(),
        );
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
      ...(record.reason ? { reason: record.reason } : {}),
    });
    this.stories.record(
      {
        kind: "dispatch",
        outcome: record.kind,
        job: storyJob(record.job),
        profile: record.profile,
        reason: record.reason,
        runnerName: record.runnerName,
      },
      record.at,
    );
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

  /** A job with our label was queued or completed, or our runner took a job or finished it. */
  runnerEvent(event: RunnerEvent): void {
    const runnerProfile = event.runnerName ? this.ledger.get(event.runnerName, event.job.installationId)?.profile : undefined;
    this.stories.record(
      {
        kind: "webhook",
        action: event.action,
        job: storyJob(event.job),
        htmlUrl: event.htmlUrl,
        runnerName: event.runnerName,
        startedAt: event.startedAt,
        completedAt: event.completedAt,
        conclusion: event.conclusion,
        profile: runnerProfile,
      },
      this.sources.now(),
    );
    if (event.action === "queued" || event.runnerName === undefined) return;
    const profile = runnerProfile ?? "unknown";
    const labels = { installation: String(event.job.installationId), profile };
    if (event.action === "in_progress" && event.job.createdAt && event.startedAt)
      this.metrics.jobStarted(labels, Date.parse(event.job.createdAt), Date.parse(event.startedAt));
    if (event.action === "completed" && event.startedAt && event.completedAt)
      this.metrics.jobCompleted(labels, Date.parse(event.startedAt), Date.parse(event.completedAt));
  }

  /** A sandbox ended (its runner finished its job, or a pass terminated it): its cost is counted once. */
  sandboxEnded(name: string, installationId: number, repository?: string): void {
    this.ledger.ended(name, installationId, repository);
  }

  /** The assignment guard checked the job a runner of ours took; "stopped": policy refused it and its sandbox was stopped. */
  guarded(outcome: GuardOutcome, job: JobRef, detail: { runnerName?: string; reason?: string } = {}): void {
    this.metrics.guard(outcome);
    if (outcome === "stopped" && detail.runnerName)
      this.stories.record(
        { kind: "stopped", job: storyJob(job), runnerName: detail.runnerName, reason: detail.reason },
        this.sources.now(),
      );
  }

  /** The start-up doctor's results, for the status page. */
  doctorRan(results: DoctorResult[]): void {
    this.#doctor = results.map(({ check, status, detail, fix }) => ({ check, status, detail, ...(fix ? { fix } : {}) }));
  }

  /**
   * Why the App cannot serve jobs now, in plain words (empty: it can): for /health.
   * Not ready until a reconcile pass has succeeded, nor while GitHub or Modal is unreachable.
   */
  problems(): string[] {
    const problems: string[] = [];
    const github = this.sources.github?.state() ?? { reachable: true };
    if (!github.reachable) problems.push(`GitHub is unreachable since ${github.since}: ${github.reason}`);
    const modal = modalReachability(this.sources.breaker.state());
    if (!modal.reachable) problems.push(`Modal is unreachable since ${modal.since} (next try ${modal.nextTryAt}): ${modal.reason}`);
    if (this.#lastSuccessAt === undefined) problems.push("no reconcile pass has succeeded yet");
    if (this.#lastPass && !this.#lastPass.ok)
      problems.push(`the last reconcile pass (${this.#lastPass.at}) failed: ${this.#lastPass.problem ?? "see the log"}`);
    return problems;
  }

  /** A reconcile pass saw the world. */
  observed(world: ObservedWorld): void {
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
      errors: [
        ...(summary.problem ? [summary.problem] : []),
        ...(summary.failed > 0 ? [`${summary.failed} part(s) could not be read or repaired; see the log`] : []),
      ],
      ...(summary.problem && { problem: summary.problem }),
    };
    if (summary.ok) this.#lastSuccessAt = at;
  }

  /** The dispatcher's last outcome records (about 50), newest first. */
  recentOutcomes(): JobOutcome[] {
    return this.#outcomes.list();
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
      jobStories: this.stories.list(),
      queueTimes: this.stories.queueTimes(sources.now()),
      jobRunBy: (name) => this.stories.jobRunBy(name),
      github: sources.github?.state() ?? { reachable: true },
      doctor: this.#doctor,
      lastPass: this.#lastPass,
      lastSuccessAt: this.#lastSuccessAt,
      breaker: sources.breaker.state(),
      spendToday: this.#spend.list(),
      runnerVersion: sources.runnerVersion?.(),
    });
    return fleet ? { ...snapshot, fleet } : snapshot;
  }

  /** What jobs and sandboxes the counts come from (the page's and the gauge's). */
  #jobSources() {
    return {
      jobs: this.sources.jobs
        .handled()
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
