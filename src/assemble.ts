// The composition root: builds every part of the App from its settings and the
// world it talks to (RuntimeIo), and owns their life: start, idle, drain, stop.
// It knows nothing of HTTP servers or Probot's app functions; the server and the
// CLI call it directly, and tests through them.
import { repositoryKey } from "./model/job.js";
import { describeRunnerConfig } from "./config/describe-runner-config.js";
import { Dispatcher } from "./dispatch/dispatcher.js";
import { AssignmentGuard } from "./dispatch/guard-assignments.js";
import { OrphanSightings } from "./dispatch/orphan-sightings.js";
import { serveJob } from "./dispatch/serve-job.js";
import { createRedeliveryState, redeliverFailedDeliveries } from "./github/redeliver-failed-deliveries.js";
import { RunnerScopes } from "./github/runner-scope.js";
import { Fleet } from "./modal/fleet.js";
import { budgetUse, buildFleetParts } from "./fleet-parts.js";
import { Observability } from "./observability.js";
import { JobPolicy } from "./policy/job-policy.js";
import { PolicyFiles } from "./policy/policy-files.js";
import { Reconciler } from "./reconcile/reconciler.js";
import { RepositoryDirectory } from "./reconcile/repository-directory.js";
import type { RuntimeIo } from "./runtime-io.js";
import type { Settings } from "./settings/load-settings.js";
import { onWorkflowJob } from "./webhooks/on-workflow-job.js";

export type Runtime = ReturnType<typeof assemble>;

export function assemble(settings: Settings, io: RuntimeIo, options: { reconcileOnTimer?: boolean } = {}) {
  const { log, now, github } = io;
  const { config } = settings.runner;
  const fleet = new Fleet(
    io.modal,
    { ...settings.modal, retry: io.modalRetry, breaker: io.modalBreaker, now },
    log.child({ component: "modal" }),
  );
  const scopes = new RunnerScopes(settings.runner.scope, settings.runner.group);
  const directory = new RepositoryDirectory();
  // Claims, caps, lease: local for one process, in Redis for a fleet (REDIS_URL).
  const shared = buildFleetParts(settings, io);
  const { capacity } = shared;
  const policyFiles = new PolicyFiles(log.child({ component: "policy" }), now, { onUnreadable: () => metrics.policyUnreadable() });
  const policy = new JobPolicy({ runnerLabel: settings.runner.label, ...settings.policy }, config, policyFiles, github.installation);
  const orphans = new OrphanSightings(now);
  // The first pass looks back an hour: deliveries that failed while this process
  // was down or restarting (older ones are a full sweep's job).
  const redeliveries = createRedeliveryState(now(), 3_600_000);
  const observability = new Observability({
    config,
    dispatcher: () => dispatcher,
    sandboxesCounted: () => capacity.size,
    budgets: io.budgets,
    fleet: () => shared.status(),
    breaker: () => fleet.breaker,
    directory,
    log: log.child({ component: "cost" }),
    now,
  });
  const { metrics } = observability;
  const guard = new AssignmentGuard({
    policy,
    fleet,
    log: log.child({ component: "policy" }),
    onOutcome: (outcome) => metrics.guard(outcome),
  });

  /** Why Modal cannot take sandboxes now (its breaker is open), or undefined. */
  const modalUnavailable = () => {
    const breaker = fleet.breaker.state();
    return breaker.state === "open" ? breaker.reason : undefined;
  };

  const dispatcher: Dispatcher = new Dispatcher({
    concurrency: settings.dispatch.concurrency,
    log: log.child({ component: "dispatch" }),
    now,
    capacity,
    claims: shared.claims,
    modal: { unavailable: modalUnavailable, whenAvailable: () => fleet.breaker.whenClosed() },
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

  const reconciler = new Reconciler({
    fleet,
    octokitFor: (installationId) => github.installation(installationId, "reconcile"),
    appOctokit: () => github.app("reconcile"),
    scopes,
    directory,
    unservedJobs: () => [...dispatcher.unserved().map((entry) => entry.job), ...dispatcher.waiting()],
    serve: (job, attempt) => dispatcher.enqueue(job, attempt),
    // Being served: dispatched here lately, or claimed by any replica of the fleet.
    dispatching: async (since, queued) => [...dispatcher.dispatching(since), ...(await shared.claims.claimed(queued))],
    // Once per fleet: one replica per interval asks GitHub to redeliver, one per sweep interval sweeps.
    redeliver: async (app) =>
      (await shared.lease.take("redeliver", Math.max(1000, settings.reconcile.intervalMs * 0.9)))
        ? redeliverFailedDeliveries(app, redeliveries, { now })
        : { listed: 0, requested: 0, skipped: 0, failed: 0, failures: [] },
    fullSweepLease: () => shared.lease.take("full-sweep", settings.reconcile.fullSweepIntervalMs * 0.9),
    ended: (name, installationId) => {
      capacity.ended(name, installationId);
      observability.ledger.ended(name, installationId);
      dispatcher.pump();
    },
    observed: (world) => {
      observability.observed(world);
      capacity.observe(
        world.sandboxes.map((sandbox) => ({
          name: sandbox.name,
          installationId: sandbox.installationId ?? 0,
          repository: repositoryKey(sandbox.repository ?? ""),
          profile: sandbox.profile ?? "",
        })),
        world.now,
      );
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
    capacity,
    reconciler,
    directory,
    guard,
    report: (event) => observability.runnerEvent(event),
    log: log.child({ component: "webhooks" }),
    now,
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
