// The composition root: builds every part of the App from its settings and the
// world it talks to (RuntimeIo), and owns their life: start, idle, drain, stop.
// It knows nothing of HTTP servers or Probot's app functions: the app function
// (index.ts) and the CLI call it.
import { describeRunnerConfig } from "./config/describe-runner-config.js";
import { Capacity } from "./dispatch/capacity.js";
import { Dispatcher } from "./dispatch/dispatcher.js";
import { AssignmentGuard } from "./dispatch/guard-assignments.js";
import { OrphanSightings } from "./dispatch/orphan-sightings.js";
import { serveJob } from "./dispatch/serve-job.js";
import { QUEUED_WEBHOOK_TRUSTED_MS } from "./dispatch/still-queued-check.js";
import { createRedeliveryState, redeliverFailedDeliveries } from "./github/redeliver-failed-deliveries.js";
import { RunnerScopes } from "./github/runner-scope.js";
import { systemClock, type Clock } from "./lib/clock.js";
import type { AppOctokit } from "./github/create-octokit-class.js";
import { Fleet } from "./modal/fleet.js";
import { budgetUse, buildFleetParts } from "./fleet-parts.js";
import { Observability } from "./observability.js";
import { receiptEnv } from "./observe/receipt-env.js";
import { RunnerVersionWatch } from "./observe/runner-version-watch.js";
import { isRunnerImage } from "./modal/runner-release-steps.js";
import { withLatestRunner } from "./runner-version.js";
import { readRunnerReleaseAsApp } from "./github/runner-releases.js";
import { JobPolicy } from "./policy/job-policy.js";
import { PolicyFiles } from "./policy/policy-files.js";
import { Reconciler } from "./reconcile/reconciler.js";
import { RepositoryDirectory } from "./reconcile/repository-directory.js";
import type { RuntimeIo } from "./runtime-io.js";
import type { Settings } from "./settings/load-settings.js";
import { onInstallation } from "./webhooks/on-installation.js";
import { onWorkflowJob } from "./webhooks/on-workflow-job.js";

export type Runtime = ReturnType<typeof assemble>;

export function assemble(settings: Settings, io: RuntimeIo, options: { reconcileOnTimer?: boolean } = {}) {
  const { log, now, github } = io;
  const clock: Clock = { ...systemClock, now };
  const { config } = settings.runner;
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
      sandboxEnv: (profile) => ({
        ...receiptEnv(profile, config),
        // The runner may skip its self-update only when its image is known to hold the latest release.
        ...(isRunnerImage(profile.image, settings.runner.version.pinned) &&
          runnerVersion.currency({ refresh: false }).state === "current" && { MODAL_RUNNER_DISABLE_UPDATE: "1" }),
      }),
      ...(settings.runner.version.wanted === "latest" && { extendImage: (definition) => withLatestRunner(definition, runnerVersion) }),
    },
    log.child({ component: "modal" }),
  );
  const scopes = new RunnerScopes(settings.runner.scope, settings.runner.group);
  const directory = new RepositoryDirectory();
  const capacity = new Capacity(now);
  // Claims, fleet caps, lease: none (or always held) for one process, in Redis for a fleet (REDIS_URL).
  const shared = buildFleetParts(settings, io);
  /** A sandbox ended: free its slot here and in the fleet's count. */
  const ended = (name: string, installationId: number, repository?: string) => {
    capacity.ended(name, installationId, repository);
    shared.fleetCaps?.ended(name, installationId, repository);
  };
  const policyFiles = new PolicyFiles(log.child({ component: "policy" }), now, { onUnreadable: () => metrics.policyUnreadable() });
  const policy = new JobPolicy({ runnerLabel: settings.runner.label, ...settings.policy }, config, policyFiles, github.installation);
  const orphans = new OrphanSightings(now);
  // The first pass looks back an hour: deliveries that failed while this process
  // was down or restarting (older ones are a full sweep's job).
  const redeliveries = createRedeliveryState(now(), 3_600_000);
  /** Why Modal cannot take sandboxes now (its creation breaker is open), or undefined. */
  const creationRefused = () => {
    const breaker = fleet.breaker.state();
    return breaker.state === "open" ? breaker.reason : undefined;
  };
  /**
   * The same, as readiness reports it. The breaker closes only on a create, and never
   * probes by itself: once a probe is due and no job waits or is under way, the next job's create is
   * the probe, so the App is ready for it (else a readiness gate would keep away the
   * very webhook that closes the breaker).
   */
  const modalUnavailable = () => {
    const reason = creationRefused();
    return reason !== undefined && (!fleet.breaker.allows() || dispatcher.jobs().length > 0) ? reason : undefined;
  };

  const dispatcher = new Dispatcher({
    concurrency: settings.dispatch.concurrency,
    // Never longer than the reconciler waits before serving a job itself (still-queued-check.ts).
    trustQueuedWebhookForMs: Math.min(QUEUED_WEBHOOK_TRUSTED_MS, settings.reconcile.unservedJobGraceMs),
    log: log.child({ component: "dispatch" }),
    clock,
    capacity,
    ...(shared.claims && { claims: shared.claims }),
    ...(shared.fleetCaps && { fleetCaps: shared.fleetCaps }),
    budgets: io.budgets,
    modal: {
      unavailable: creationRefused,
      probeDue: () => fleet.breaker.state().state === "open" && fleet.breaker.allows(),
      whenAvailable: () => fleet.breaker.whenAllowed(),
    },
    plan: (job) => policy.plan(job),
    onOutcome: (record) => observability.outcome(record),
    serve: async (job, request) =>
      serveJob(
        job,
        {
          octokit: await github.installation(job.installationId),
          fleet,
          scopes,
          settings,
          firstSeenOrphan: (key) => orphans.firstSeen(key),
          now,
          log,
        },
        request,
      ),
  });

  const observability = new Observability({
    config,
    dispatcher: () => dispatcher,
    sandboxesCounted: () => capacity.size,
    budgets: io.budgets,
    fleet: () => shared.status(),
    breaker: () => fleet.breaker,
    directory,
    namePrefix: settings.runner.namePrefix,
    github: io.githubReachability,
    runnerVersion: () => runnerVersion.currency(),
    log: log.child({ component: "cost" }),
    now,
  });
  const { metrics } = observability;
  const guard = new AssignmentGuard({
    policy,
    fleet,
    log: log.child({ component: "policy" }),
    onOutcome: (outcome, job, detail) => observability.guarded(outcome, job, detail),
  });

  const reconciler = new Reconciler({
    fleet,
    octokitFor: (installationId) => github.installation(installationId, "reconcile"),
    appOctokit: () => github.app("reconcile"),
    scopes,
    directory,
    unservedJobs: () => [...dispatcher.unserved().map((entry) => entry.job), ...dispatcher.waiting()],
    serve: (job, attempt) => dispatcher.enqueue(job, attempt),
    checkAssignment: (job, runnerName) => guard.check(job, runnerName),
    // Being served: dispatched here lately, or (a fleet) claimed by any replica.
    dispatching: shared.claims
      ? async (since, queued) => [...dispatcher.dispatching(since), ...(await shared.claimed(queued))]
      : (since) => dispatcher.dispatching(since),
    redeliver: (app) => redeliverFailedDeliveries(app, redeliveries, { now }),
    // Once per fleet: one replica per interval asks GitHub to redeliver, one per sweep interval sweeps.
    ...(io.shared && {
      redeliver: async (app: AppOctokit) =>
        (await shared.lease.take("redeliver", Math.max(1000, settings.reconcile.intervalMs * 0.9)))
          ? redeliverFailedDeliveries(app, redeliveries, { now })
          : { listed: 0, requested: 0, skipped: 0, failed: 0, failures: [] },
      fullSweepLease: () => shared.lease.take("full-sweep", settings.reconcile.fullSweepIntervalMs * 0.9),
    }),
    ended: (name, installationId) => {
      ended(name, installationId);
      observability.ledger.ended(name, installationId);
      dispatcher.pump();
    },
    observed: (world) => {
      observability.observed(world);
      capacity.observe(world.sandboxes, world.now);
      shared.fleetCaps?.observe(world.sandboxes, world.now);
      dispatcher.pump();
    },
    wanted: (job) => policy.screen(job).serve,
    namePrefix: settings.runner.namePrefix,
    activeRepositoryWindowMs: settings.reconcile.activeRepositoryWindowMs,
    unservedJobGraceMs: settings.reconcile.unservedJobGraceMs,
    plan: {
      namePrefix: settings.runner.namePrefix,
      idleRunnerTimeoutMs: settings.reconcile.idleRunnerTimeoutMs,
      finishedGraceMs: settings.reconcile.finishedGraceMs,
      registrationGraceMs: settings.dispatch.registrationGraceMs,
      unservedJobGraceMs: settings.reconcile.unservedJobGraceMs,
      lifetimeCapMs: {
        byProfile: Object.fromEntries(config.profiles.map((profile) => [profile.name, profile.timeoutMs])),
        otherwise: Math.max(...config.profiles.map((profile) => profile.timeoutMs)),
      },
    },
    passed: (summary) => observability.passed(summary),
    intervalMs: settings.reconcile.intervalMs,
    fullSweepIntervalMs: settings.reconcile.fullSweepIntervalMs,
    log: log.child({ component: "reconcile" }),
    now,
  });

  const handleWorkflowJob = onWorkflowJob({
    runnerLabel: settings.runner.label,
    namePrefix: settings.runner.namePrefix,
    dispatcher,
    capacity: { ended },
    reconciler,
    directory,
    guard,
    report: (event) => {
      // The event's handler checked the job against policy; a pass checks only what no event told.
      if (event.runnerName !== undefined && event.action === "in_progress") {
        const startedAt = event.startedAt ? Date.parse(event.startedAt) : now();
        reconciler.assignments.took(event.runnerName, event.job, Number.isFinite(startedAt) ? startedAt : now(), now(), true);
      } else if (event.runnerName !== undefined && event.action === "completed") reconciler.assignments.ended(event.runnerName);
      observability.runnerEvent(event);
    },
    log: log.child({ component: "webhooks" }),
    now,
  });

  const handleInstallation = onInstallation({
    dropWaiting: (match) => {
      const dropped = dispatcher.waiting().filter(match);
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
    metrics,
    observability,
    modalUnavailable,
    /** "degraded: Redis unreachable" while a fleet's Redis is, else undefined. */
    degraded: () => shared.degraded(),
    handleWorkflowJob,
    /** `installation` and `installation_repositories` deliveries. */
    handleInstallation,
    runnerVersion,

    /** Resolves the Modal app and every profile's image now (so the first job does not wait), and starts the reconciler. */
    start(): void {
      log.info(describeRunnerConfig(config), "runner config loaded");
      void fleet.prepare(config.profiles);
      if (options.reconcileOnTimer !== false) reconciler.start();
      shared.start(
        () => ({
          jobs: {
            waiting: dispatcher.waiting().length,
            dispatching: dispatcher.jobs().filter((entry) => entry.state === "dispatching").length,
          },
          lastPass: observability.lastPass
            ? { at: Date.parse(observability.lastPass.at), ok: observability.lastPass.ok, full: false }
            : undefined,
          budget: budgetUse(io.budgets),
        }),
        // Redis came back, perhaps empty: rebuild the shared state from GitHub and Modal.
        () => void reconciler.run({ full: true, reason: "Redis reachable again" }),
        Math.max(250, Math.floor((io.shared?.registry.ttlMs ?? 30_000) / 3)),
      );
    },

    /** Resolves when queued dispatch, tag updates and reconcile passes are done. */
    async idle(): Promise<void> {
      await Promise.all([dispatcher.idle(), guard.idle(), reconciler.idle()]);
    },

    /** Lets in-flight work finish, for at most `timeoutMs`; true when it all did. */
    async drain(timeoutMs: number): Promise<boolean> {
      reconciler.stop();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
      const done = await Promise.race([this.idle().then(() => true as const), timedOut]);
      clearTimeout(timer);
      return done;
    },

    /** Stops timers and work; resolves when a fleet replica has left the fleet and closed Redis. */
    async stop(): Promise<void> {
      reconciler.stop();
      dispatcher.stop();
      guard.clear();
      await shared.stop();
    },
  };
}
