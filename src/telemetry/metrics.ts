// Prometheus metrics: what the App did with jobs, what it cost, how long jobs waited,
// what the reconciler repaired, and how much room is left at GitHub and Modal.
// Labels carry installation ids, profile names, outcomes and kinds: no repository
// names (unbounded), no secrets. The meanings mirror actions-runner-controller's
// listener metrics (`gha_job_startup_duration_seconds` …) so dashboards translate.
// This module takes plain data only, so it sits below dispatch/ and reconcile/.
import type { IncomingMessage, ServerResponse } from "node:http";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { authorizeRequest } from "./authorize-request.js";
import { requestUrl } from "../lib/request-url.js";
import type { RunnerCurrency } from "./runner-currency.js";

export type JobState = "waiting" | "dispatching" | "running";

/** Read at scrape time; every callback is optional except the two the App has always fed. */
export interface MetricsSources {
  /** Jobs waiting for capacity (a cap is reached). */
  waiting: () => number;
  /** Runner sandboxes counted against the caps. */
  sandboxes: () => number;
  /** Jobs by installation, profile and state. */
  jobs?: () => Iterable<{ installation: string; profile: string; state: JobState; count: number }>;
  /** GitHub rate-limit points left, per installation id. */
  githubBudget?: () => Iterable<{ installation: string; points: number }>;
  /** Whether the Modal circuit breaker is open (calls to Modal are held back). */
  modalBreakerOpen?: () => boolean;
  /** The runner version in the images against GitHub's latest release. */
  runnerVersion?: () => RunnerCurrency;
}

/** modal_runner_version_behind's value for each verdict; no sample while the latest release is unknown. */
const CURRENCY_LEVEL: Record<RunnerCurrency["state"], number | undefined> = { current: 0, behind: 1, deadline: 2, unknown: undefined };

export interface MetricsOptions {
  /** prom-client's process metrics (CPU, memory, event loop, GC); on unless turned off. */
  defaultMetrics?: boolean;
  /**
   * A fleet replica's name: every series this process exports is its own view (its
   * dispatches, its budget, its passes), so each carries a `replica` label and a
   * dashboard sums or compares them across the fleet.
   */
  replica?: string;
  /** A fleet's Redis: whether it is unreachable now, and the round trips made so far. */
  redis?: () => { degraded: boolean; roundTrips: number };
  now?: () => number;
}

/** What a reconcile pass reports; the reconciler's PassSummary has this shape. */
export interface PassFigures {
  ok: boolean;
  durationMs?: number;
  repaired: Partial<Record<string, number>>;
  apiCalls: { github: number; modal: number };
}

/** Who may read /metrics: `"open"` on its own port (METRICS_PORT), else the STATUS_TOKEN. */
export type MetricsAccess = "open" | { token: string | undefined };

// Startup spans seconds (warm image) to many minutes (cap reached), like ARC's buckets.
const STARTUP_BUCKETS = [1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200, 1800, 3600];
const CREATE_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300];
const EXECUTION_BUCKETS = [10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 21600];
const PASS_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];

export class Metrics {
  readonly registry = new Registry();
  readonly #now: () => number;
  readonly #jobs = new Counter({
    name: "modal_runner_jobs_total",
    help: "Queued jobs handled, by outcome (started, already-served, not-queued, retry-later, waiting, refused, failed)",
    labelNames: ["outcome"],
    registers: [this.registry],
  });
  readonly #repairs = new Counter({
    name: "modal_runner_reconcile_repairs_total",
    help: "Repairs made by the reconciler, by kind",
    labelNames: ["kind"],
    registers: [this.registry],
  });
  readonly #passes = new Counter({
    name: "modal_runner_reconcile_passes_total",
    help: "Reconcile passes, by result (ok: Modal could be observed)",
    labelNames: ["result"],
    registers: [this.registry],
  });
  readonly #apiCalls = new Counter({
    name: "modal_runner_reconcile_api_calls_total",
    help: "API calls spent by reconcile passes",
    labelNames: ["api"],
    registers: [this.registry],
  });
  readonly #passDuration = new Histogram({
    name: "modal_runner_reconcile_duration_seconds",
    help: "How long reconcile passes took",
    buckets: PASS_BUCKETS,
    registers: [this.registry],
  });
  readonly #lastSuccess = new Gauge({
    name: "modal_runner_last_reconcile_success_timestamp_seconds",
    help: "Unix time of the last reconcile pass that could observe both GitHub and Modal (alert when it falls behind)",
    registers: [this.registry],
  });
  readonly #cost = new Counter({
    name: "modal_runner_cost_dollars_total",
    help: "Estimated Modal spend of ended runner sandboxes, in dollars, at the configured per-second prices",
    labelNames: ["installation", "profile"],
    registers: [this.registry],
  });
  readonly #startup = new Histogram({
    name: "modal_runner_job_startup_duration_seconds",
    help: "From a job queued at GitHub to a runner starting it (ARC's gha_job_startup_duration_seconds)",
    labelNames: ["installation", "profile"],
    buckets: STARTUP_BUCKETS,
    registers: [this.registry],
  });
  readonly #execution = new Histogram({
    name: "modal_runner_job_execution_duration_seconds",
    help: "From a job starting on a runner to its completion (ARC's gha_job_execution_duration_seconds)",
    labelNames: ["installation", "profile"],
    buckets: EXECUTION_BUCKETS,
    registers: [this.registry],
  });
  readonly #webhookToSandbox = new Histogram({
    name: "modal_runner_webhook_to_sandbox_duration_seconds",
    help: "From a queued webhook's arrival to its runner sandbox being created at Modal",
    labelNames: ["installation", "profile"],
    buckets: CREATE_BUCKETS,
    registers: [this.registry],
  });

  readonly #guard = new Counter({
    name: "modal_runner_assignment_checks_total",
    help: "Jobs our runners took, checked against policy after dispatch, by outcome (stopped: the job was refused and its runner stopped)",
    labelNames: ["outcome"],
    registers: [this.registry],
  });

  constructor(sources: MetricsSources, options: MetricsOptions = {}) {
    this.#now = options.now ?? Date.now;
    if (options.replica !== undefined) this.registry.setDefaultLabels({ replica: options.replica });
    const redis = options.redis;
    if (redis) {
      new Gauge({
        name: "modal_runner_fleet_degraded",
        help: "1 while the fleet's Redis is unreachable (this replica serves on a local share)",
        registers: [this.registry],
        collect() {
          this.set(redis().degraded ? 1 : 0);
        },
      });
      new Counter({
        name: "modal_runner_redis_round_trips_total",
        help: "Redis round trips made by this replica (budget takes and releases, claims, reservations, views)",
        registers: [this.registry],
        collect() {
          this.reset();
          this.inc(redis().roundTrips);
        },
      });
    }
    new Gauge({
      name: "modal_runner_jobs_waiting",
      help: "Jobs waiting for capacity (a cap is reached)",
      registers: [this.registry],
      collect() {
        this.set(sources.waiting());
      },
    });
    new Gauge({
      name: "modal_runner_sandboxes",
      help: "Runner sandboxes counted against the caps (last reconcile list plus those started since)",
      registers: [this.registry],
      collect() {
        this.set(sources.sandboxes());
      },
    });
    new Gauge({
      name: "modal_runner_jobs_current",
      help: "Jobs now waiting for capacity, being dispatched, or running, by installation and profile",
      labelNames: ["installation", "profile", "state"],
      registers: [this.registry],
      collect() {
        // Reset first: a series whose jobs are all gone must read 0, not its last value.
        this.reset();
        for (const { installation, profile, state, count } of sources.jobs?.() ?? []) this.inc({ installation, profile, state }, count);
      },
    });
    new Gauge({
      name: "modal_runner_github_budget_points",
      help: "GitHub rate-limit points left, per installation (low headroom delays runners)",
      labelNames: ["installation"],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const { installation, points } of sources.githubBudget?.() ?? []) this.set({ installation }, points);
      },
    });
    new Gauge({
      name: "modal_runner_modal_breaker_open",
      help: "1 while the Modal circuit breaker is open (sandbox creation held back), else 0",
      registers: [this.registry],
      collect() {
        this.set(sources.modalBreakerOpen?.() ? 1 : 0);
      },
    });
    new Gauge({
      name: "modal_runner_version_behind",
      help: "The runner version in the images against GitHub's latest release: 0 current, 1 behind (runners update themselves at every start), 2 within a week of GitHub's 30-day deadline or past it",
      labelNames: ["image", "latest"],
      registers: [this.registry],
      collect() {
        this.reset();
        const currency = sources.runnerVersion?.();
        const level = currency && CURRENCY_LEVEL[currency.state];
        if (currency && level !== undefined) this.set({ image: currency.image, latest: currency.latest ?? "" }, level);
      },
    });
    // On this registry, not prom-client's global one: several Apps (tests, replicas in
    // one process) must not share or double-register series.
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** One queued job handled, by outcome (the dispatcher's outcome kinds). */
  job(outcome: string): void {
    this.#jobs.inc({ outcome });
  }

  readonly #policyUnreadable = new Counter({
    name: "modal_runner_policy_file_unreadable_total",
    help: "Reads of an org's or repository's policy file that failed or found it invalid (that org or repository is not served until it reads)",
    registers: [this.registry],
  });

  policyUnreadable(): void {
    this.#policyUnreadable.inc();
  }

  guard(outcome: string): void {
    this.#guard.inc({ outcome });
  }

  pass(summary: PassFigures): void {
    this.#passes.inc({ result: summary.ok ? "ok" : "failed" });
    for (const [kind, count] of Object.entries(summary.repaired)) if (count) this.#repairs.inc({ kind }, count);
    this.#apiCalls.inc({ api: "github" }, summary.apiCalls.github);
    this.#apiCalls.inc({ api: "modal" }, summary.apiCalls.modal);
    if (summary.durationMs !== undefined) this.#passDuration.observe(summary.durationMs / 1000);
    if (summary.ok) this.#lastSuccess.set(this.#now() / 1000);
  }

  /** A sandbox ended: add its estimated cost (see cost.ts). */
  cost(labels: { installation: string; profile: string }, dollars: number): void {
    if (dollars > 0) this.#cost.inc(labels, dollars);
  }

  /** A job was taken by a runner (`workflow_job.in_progress`): queued → running. */
  jobStarted(labels: { installation: string; profile: string }, queuedAt: Date | number, startedAt: Date | number): void {
    this.#startup.observe(labels, seconds(queuedAt, startedAt));
  }

  /** A job completed: running → completed. */
  jobCompleted(labels: { installation: string; profile: string }, startedAt: Date | number, completedAt: Date | number): void {
    this.#execution.observe(labels, seconds(startedAt, completedAt));
  }

  /** A sandbox was created for a queued webhook: webhook arrival → sandbox created. */
  sandboxCreated(labels: { installation: string; profile: string }, webhookAt: Date | number, createdAt: Date | number): void {
    this.#webhookToSandbox.observe(labels, seconds(webhookAt, createdAt));
  }

  /**
   * GET /metrics as a Probot `addHandler` handler. `"open"` serves anyone (for its own
   * port, METRICS_PORT, kept off the public webhook port); `{ token }` serves only
   * requests that show STATUS_TOKEN, and nothing at all when no token is set.
   */
  handler(access: MetricsAccess = "open") {
    return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
      if (req.method !== "GET" || requestUrl(req).pathname !== "/metrics") return false;
      if (access !== "open") {
        if (!access.token) return false;
        if (!authorizeRequest(req, access.token)) {
          res
            .writeHead(401, {
              "www-authenticate": 'Bearer realm="modal-github-runner", Basic realm="modal-github-runner"',
              "content-type": "text/plain",
            })
            .end("Unauthorized\n");
          return true;
        }
      }
      res.writeHead(200, { "content-type": this.registry.contentType }).end(await this.registry.metrics());
      return true;
    };
  }
}

function seconds(from: Date | number, to: Date | number): number {
  return Math.max(0, (Number(to) - Number(from)) / 1000);
}
