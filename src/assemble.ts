// The composition root: builds every part of the App from its settings and the
// world it talks to (RuntimeIo), and owns their life: start, idle, drain, stop.
// It knows nothing of HTTP servers or Probot's app functions: the app function
// (index.ts) and the CLI call it.
import { describeRunnerConfig } from "./runner-config/describe-runner-config.js";
import { Capacity } from "./dispatch/capacity.js";
import { Dispatcher } from "./dispatch/dispatcher.js";
import { JobBook } from "./dispatch/job-book.js";
import { AssignmentGuard } from "./dispatch/guard-assignments.js";
import { serveJob } from "./dispatch/serve-job.js";
import { QUEUED_WEBHOOK_TRUSTED_MS } from "./dispatch/still-queued-check.js";
import { createRedeliveryState, redeliverFailedDeliveries } from "./github/redeliver-failed-deliveries.js";
import { RunnerScopes } from "./github/resolve-runner-scope.js";
import { systemClock, type Clock } from "./lib/clock.js";
import { Sightings } from "./lib/sightings.js";
import { Fleet } from "./modal/fleet.js";
import { buildFleetParts } from "./fleet-parts.js";
import { TelemetryFeed } from "./telemetry-feed.js";
import { RunnerVersionWatch } from "./telemetry/runner-version-watch.js";
import { runnerImageOptions } from "./runner-version.js";
import { readRunnerReleaseAsApp } from "./github/runner-releases.js";
import { JobPolicy } from "./policy/job-policy.js";
import { PolicyFiles } from "./policy/policy-files.js";
import { lifetimeCaps } from "./reconcile/plan-repairs.js";
import { Reconciler } from "./reconcile/reconciler.js";
import { RepositoryDirectory } from "./reconcile/repository-directory.js";
import type { RuntimeIo } from "./runtime-io.js";
import type { Settings } from "./settings/load-settings.js";
import { onInstallation } from "./webhooks/on-installation.js";
import { onWorkflowJob } from "./webhooks/on-workflow-job.js";

export type Runtime = ReturnType<typeof assemble>;

// Wiring only, in dependency order: every part is built after the parts it calls,
// and the rules live in the rooms (a closure here only forwards).
export function assemble(settings: Settings, io: RuntimeIo, options: { reconcileOnTimer?: boolean } = {}) {
  const { log, now, github } = io;
  const clock: Clock = io.clock ?? { ...systemClock, now };
  const { config } = settings.runner;
  const { namePrefix } = settings.runner;

  // The world: GitHub's runner releases, Modal's fleet, runner scopes, what a fleet of replicas shares.
  const runnerVersion = new RunnerVersionWatch({
    pinned: settings.runner.version.pinned,
    read: () => readRunnerReleaseAsApp({ app: () => github.app(), installation: (id) => github.installation(id) }),
    now,
    log: log.child({ component: "runner-version" }),
  });
  const fleet = new Fleet(
    io.modal,
    {
      ...settings.modal,
      retry: io.modalRetry,
      breaker: io.modalBreaker,
      now,
      clock,
      ...runnerImageOptions(config, settings.runner.version, runnerVersion),
    },
    log.child({ component: "modal" }),
  );
  const scopes = new RunnerScopes(settings.runner.scope, settings.runner.group);
  const directory = new RepositoryDirectory();
  // Claims, fleet caps, leases: none (or always held) for one process, in Redis for a fleet (REDIS_URL).
  const shared = buildFleetParts(settings, io);

  // What the App knows and tells: the one map of job states (the dispatcher writes it,
  // the reconciler and telemetry read it), the sandboxes counted against the caps, and
  // telemetry, which every part below reports to.
  const jobs = new JobBook();
  const capacity = new Capacity(now);
  const telemetry = new TelemetryFeed({
    config,
    jobs,
    sandboxesCounted: () => capacity.size,
    budgets: io.budgets,
    fleet: () => shared.status(),
    breaker: fleet.breaker,
    directory,
    namePrefix,
    github: io.githubReachability,
    runnerVersion: () => runnerVersion.currency(),
    log: log.child({ component: "cost" }),
    now,
  });

  // Which jobs are served, with which profile and caps.
  const policyFiles = new PolicyFiles(log.child({ component: "policy" }), now, {
    onUnreadable: () => telemetry.metrics.policyUnreadable(),
  });
  const policy = new JobPolicy({ runnerLabel: settings.runner.label, ...settings.policy }, config, policyFiles, github.installation);

  // Serving jobs: the dispatcher, one job's JIT config and sandbox, and the check of what a runner took.
  /** Runner registrations without a sandbox, by "<name>#<registration id>": when a dispatch first saw each. */
  const orphans = new Sightings();
  const dispatcher = new Dispatcher({
    concurrency: settings.dispatch.concurrency,
    // Never longer than the reconciler waits before serving a job itself (still-queued-check.ts).
    trustQueuedWebhookForMs: Math.min(QUEUED_WEBHOOK_TRUSTED_MS, settings.reconcile.unservedJobGraceMs),
    log: log.child({ component: "dispatch" }),
    clock,
    jobs,
    capacity,
    ...(shared.claims && { claims: shared.claims }),
    ...(shared.fleetCaps && { fleetCaps: shared.fleetCaps }),
    budgets: io.budgets,
    modal: fleet.breaker.creation(),
    plan: (job) => policy.plan(job),
    onOutcome: (record) => telemetry.outcome(record),
    serve: async (job, request) =>
      serveJob(
        job,
        {
          octokit: await github.installation(job.installationId),
          fleet,
          scopes,
          settings,
          firstSeenOrphan: (key) => orphans.firstSeen(key, now()),
          now,
          log,
        },
        request,
      ),
  });
  const guard = new AssignmentGuard({
    policy,
    fleet,
    log: log.child({ component: "policy" }),
    onOutcome: (outcome, job, detail) => telemetry.guarded(outcome, job, detail),
    clock,
  });
  /** A sandbox ended (its runner finished, or a pass terminated it): the one path for both. */
  const sandboxEnded = (name: string, installationId: number, repository?: string) => {
    dispatcher.sandboxEnded(name, installationId, repository);
    telemetry.sandboxEnded(name, installationId, repository);
  };

  // The repair loop.
  // The first pass looks back an hour: deliveries that failed while this process
  // was down or restarting (older ones are a full sweep's job).
  const redeliveries = createRedeliveryState(now(), 3_600_000);
  const reconciler = new Reconciler({
    github: {
      octokitFor: (installationId) => github.installation(installationId, "reconcile"),
      appOctokit: () => github.app("reconcile"),
      scopes,
      directory,
      redeliver: (app) => redeliverFailedDeliveries(app, redeliveries, { now }),
    },
    fleet,
    jobs: {
      unserved: () => [...jobs.unserved().map((entry) => entry.job), ...jobs.waiting()],
      dispatching: shared.beingServed((since) => jobs.dispatching(since)),
      wanted: (job) => policy.screen(job).ok,
      prefetchOrgPolicy: (octokit, owner) => policyFiles.prefetchOrg(octokit, owner),
      serve: (job, attempt) => dispatcher.enqueue(job, attempt),
      checkAssignment: (job, runnerName) => guard.check(job, runnerName),
    },
    report: {
      ended: sandboxEnded,
      observed: (world) => {
        telemetry.observed(world);
        dispatcher.sandboxesListed(world.sandboxes, world.now);
      },
      passed: (summary) => telemetry.passed(summary),
    },
    schedule: {
      intervalMs: settings.reconcile.intervalMs,
      fullSweepIntervalMs: settings.reconcile.fullSweepIntervalMs,
      fullSweepLease: () => shared.fullSweepTurn(),
      redeliveryTurn: () => shared.redeliveryTurn(),
      activeRepositoryWindowMs: settings.reconcile.activeRepositoryWindowMs,
    },
    plan: {
      namePrefix,
      idleRunnerTimeoutMs: settings.reconcile.idleRunnerTimeoutMs,
      finishedGraceMs: settings.reconcile.finishedGraceMs,
      registrationGraceMs: settings.dispatch.registrationGraceMs,
      unservedJobGraceMs: settings.reconcile.unservedJobGraceMs,
      lifetimeCapMs: lifetimeCaps(config.profiles),
    },
    log: log.child({ component: "reconcile" }),
    now,
    clock,
  });

  // The ways in: webhook deliveries.
  const handleWorkflowJob = onWorkflowJob({
    runnerLabel: settings.runner.label,
    namePrefix,
    dispatcher,
    sandboxEnded,
    reconciler,
    directory,
    guard,
    runnerTaken: (jobId, runnerName, took) => dispatcher.runnerTaken(jobId, runnerName, took),
    report: (event) => telemetry.runnerEvent(event),
    log: log.child({ component: "webhooks" }),
    now,
  });
  const handleInstallation = onInstallation({
    dropWaiting: (match) => {
      const dropped = jobs.waiting().filter(match);
      for (const job of dropped) dispatcher.forget(job.id);
      return dropped.length;
    },
    forget: ({ installationId, repositories }) => {
      directory.forget(installationId, repositories);
      reconciler.watch.forget({ installationId, repositories });
    },
    reconcileSoon: (reason, soonOptions) => reconciler.soon(reason, soonOptions),
    log: log.child({ component: "webhooks" }),
  });

  return {
    settings,
    log,
    fleet,
    capacity,
    dispatcher,
    reconciler,
    metrics: telemetry.metrics,
    telemetry,
    /** Why Modal cannot take jobs now, as readiness reports it (undefined: it can). */
    modalUnavailable: () => dispatcher.modalUnavailable(),
    /** "degraded: Redis unreachable" while a fleet's Redis is, else undefined. */
    degraded: () => shared.degraded(),
    handleWorkflowJob,
    /** `installation` and `installation_repositories` deliveries. */
    handleInstallation,
    runnerVersion,

    /** Resolves the Modal app and every profile's image now (so the first job does not wait), and starts the reconciler. */
    start(): void {
      log.info(describeRunnerConfig(config), "runner config loaded");
      for (const deprecation of config.deprecations ?? []) log.warn({ deprecation }, "runner config uses an old spelling");
      void fleet.prepare(config.profiles);
      if (options.reconcileOnTimer !== false) reconciler.start();
      shared.start(
        { jobs, lastPass: () => telemetry.lastPass, budgets: io.budgets },
        // Redis came back, perhaps empty: rebuild the shared state from GitHub and Modal.
        () => void reconciler.run({ full: true, reason: "Redis reachable again" }),
      );
    },

    /** Resolves when queued dispatch, tag updates and reconcile passes are done. */
    async idle(): Promise<void> {
      await Promise.all([dispatcher.idle(), guard.idle(), reconciler.idle(), policyFiles.idle()]);
    },

    /** Lets in-flight work finish, for at most `timeoutMs`; true when it all did. */
    async drain(timeoutMs: number): Promise<boolean> {
      reconciler.stop();
      policyFiles.dropQueuedReads(); // reads ahead of jobs that will not come here
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
      const done = await Promise.race([this.idle().then(() => true as const), timedOut]);
      clearTimeout(timer);
      return done;
    },

    /** Stops timers and work; resolves when a fleet replica has left the fleet and closed Redis. */
    async stop(): Promise<void> {
      reconciler.stop();
      policyFiles.dropQueuedReads();
      dispatcher.stop();
      guard.clear();
      await shared.stop();
    },
  };
}
