// The Probot app: webhook deliveries in, work handed to the dispatcher (queued
// jobs) or recorded on sandboxes (which runner took which job), answer out. Nothing
// here waits for GitHub or Modal, so GitHub always gets a fast answer. The
// reconciler repairs whatever a lost webhook or a crash leaves behind.
import type { ModalClient } from "modal";
import PQueue from "p-queue";
import type { ApplicationFunction, ApplicationFunctionOptions, Probot } from "probot";
import { Capacity } from "./dispatch/capacity.js";
import { Dispatcher, type DispatchPlan } from "./dispatch/dispatcher.js";
import { serveJob } from "./dispatch/serve-job.js";
import { describeFailure } from "./errors.js";
import type { AppOctokit } from "./github/create-octokit-class.js";
import { fullName, jobFromWebhook, type JobRef } from "./github/job-ref.js";
import { parseRunnerName } from "./github/runner-name.js";
import { RunnerScopes } from "./github/runner-scope.js";
import { Fleet } from "./modal/fleet.js";
import { Metrics } from "./observe/metrics.js";
import type { AssignmentTags, FinishedTags } from "./modal/sandbox-tags.js";
import type { RetryOptions } from "./modal/with-modal-retry.js";
import { decideToServe, hasLabel } from "./policy/decide-to-serve.js";
import { operatorPolicy, POLICY_PATH, repositoryAllowed } from "./policy/org-policy.js";
import { PolicyFiles } from "./policy/policy-files.js";
import { selectProfile } from "./policy/select-profile.js";
import { reconcileEndpoint } from "./reconcile/reconcile-endpoint.js";
import { Reconciler } from "./reconcile/reconciler.js";
import { recordOnSandbox } from "./reconcile/record-on-sandbox.js";
import { RepositoryDirectory } from "./reconcile/repository-directory.js";
import type { Settings } from "./settings/load-settings.js";

export interface AppOptions {
  settings: Settings;
  modal: ModalClient;
  /** Tests shorten Modal's retry backoff. */
  modalRetry?: RetryOptions;
  now?: () => number;
  /** false: no pass at start-up and no timer (the CLI runs passes itself). */
  reconcileOnTimer?: boolean;
  /** Receives the running parts, for tests and the CLI. */
  onReady?: (parts: AppParts) => void;
}

export interface AppParts {
  dispatcher: Dispatcher;
  metrics: Metrics;
  fleet: Fleet;
  reconciler: Reconciler;
  /** Resolves when queued dispatch, tag updates and reconcile passes are done. */
  idle(): Promise<void>;
  stop(): void;
}

export function createApp(options: AppOptions): ApplicationFunction {
  const { settings } = options;
  const { config } = settings.runner;
  const now = options.now ?? Date.now;

  return (app: Probot, { addHandler }: ApplicationFunctionOptions) => {
    const log = app.log;
    const fleet = new Fleet(options.modal, { ...settings.modal, retry: options.modalRetry }, log.child({ name: "modal" }));
    const scopes = new RunnerScopes(settings.runner.scope, settings.runner.group);
    const directory = new RepositoryDirectory();
    const capacity = new Capacity(now);
    const policyFiles = new PolicyFiles(log.child({ name: "policy" }), now);
    const operator = operatorPolicy(config);
    const policy = { runnerLabel: settings.runner.label, ...settings.policy };
    const metrics = new Metrics({ waiting: () => dispatcher.waiting().length, sandboxes: () => capacity.size });
    const octokitFor = async (installationId: number) => (await app.auth(installationId)) as AppOctokit;
    const orphanSightings = new Map<string, number>();
    const firstSeenOrphan = (key: string) => {
      if (!orphanSightings.has(key)) orphanSightings.set(key, now());
      return orphanSightings.get(key)!;
    };

    /** The operator's policy narrowed by the org's files, and the profile for the job. */
    const plan = async (job: JobRef): Promise<DispatchPlan> => {
      const { owner, name } = job.repository;
      const effective = await policyFiles.effective(await octokitFor(job.installationId), operator, job.repository);
      if (!repositoryAllowed(effective, owner, name)) return { refused: `${owner}/${name} is not among the repositories ${owner}'s ${POLICY_PATH} allows` };
      const choice = selectProfile(job.labels, config.profiles.filter((profile) => effective.profiles.includes(profile.name)));
      return "profile" in choice ? { profile: choice.profile, caps: effective.caps } : { refused: choice.reason };
    };

    const dispatcher: Dispatcher = new Dispatcher({
      concurrency: settings.dispatch.concurrency,
      log: log.child({ name: "dispatch" }),
      capacity,
      plan,
      onOutcome: (outcome) => metrics.job(outcome),
      serve: async (job, request) => serveJob(job, { octokit: await octokitFor(job.installationId), fleet, scopes, settings, firstSeenOrphan, now, log }, request),
    });
    const sandboxEnded = (name: string) => {
      capacity.ended(name);
      dispatcher.pump();
    };

    const reconciler = new Reconciler({
      fleet,
      octokitFor,
      appOctokit: async () => (await app.auth()) as AppOctokit,
      scopes,
      directory,
      unservedJobs: () => [...dispatcher.unserved().map((entry) => entry.job), ...dispatcher.waiting()],
      serve: (job, attempt) => dispatcher.enqueue(job, attempt),
      ended: sandboxEnded,
      observed: (world) => {
        capacity.observe(
          world.sandboxes.map((sandbox) => ({ name: sandbox.name, installationId: sandbox.installationId ?? 0, repository: (sandbox.repository ?? "").toLowerCase(), profile: sandbox.profile ?? "" })),
          world.now,
        );
        dispatcher.pump();
      },
      wanted: (job) => decideToServe(job, policy).serve && "profile" in selectProfile(job.labels, config.profiles),
      namePrefix: settings.runner.namePrefix,
      activeRepositoryWindowMs: settings.reconcile.activeRepositoryWindowMs,
      plan: {
        namePrefix: settings.runner.namePrefix,
        idleRunnerTimeoutMs: settings.reconcile.idleRunnerTimeoutMs,
        finishedGraceMs: settings.reconcile.finishedGraceMs,
        registrationGraceMs: settings.dispatch.registrationGraceMs,
        unservedJobGraceMs: settings.reconcile.unservedJobGraceMs,
      },
      passed: (summary) => metrics.pass(summary),
      intervalMs: settings.reconcile.intervalMs,
      fullSweepIntervalMs: settings.reconcile.fullSweepIntervalMs,
      log: log.child({ name: "reconcile" }),
      now,
    });

    // Tag updates run after the answer too, a few at a time.
    const records = new PQueue({ concurrency: 4 });
    const record = (runner: string, tags: AssignmentTags | FinishedTags, fields: Record<string, unknown>) =>
      void records.add(async () => {
        try {
          const found = await recordOnSandbox(fleet, runner, { ...tags });
          log.debug({ ...fields, runner, tags, found }, "recorded on the runner's sandbox");
        } catch (error) {
          log.warn({ ...fields, runner, reason: describeFailure(error).reason }, "could not record on the runner's sandbox; the reconciler does without");
        }
      });

    app.on("workflow_job", async (context) => {
      const { action } = context.payload;
      const parsed = jobFromWebhook(context.payload);
      const fields = { deliveryId: context.id, action, jobId: context.payload.workflow_job?.id, repo: context.payload.repository?.full_name };
      if ("rejected" in parsed) {
        log.warn({ ...fields, reason: parsed.rejected }, "webhook rejected");
        return;
      }
      const { job, runnerName } = parsed;
      directory.noteActivity(job.repository, job.installationId, now());
      const ourRunner = runnerName !== undefined && parseRunnerName(settings.runner.namePrefix, runnerName) !== undefined;

      if (action === "in_progress" && ourRunner) {
        record(runnerName, { assigned_job_id: String(job.id), assigned_repository: fullName(job.repository), assigned_at: String(now()) }, fields);
        return;
      }
      if (action === "completed") {
        dispatcher.forget(job.id);
        if (ourRunner) {
          // The runner exits after its job: its slot is free for a waiting job.
          sandboxEnded(runnerName);
          record(runnerName, { finished_at: String(now()) }, fields);
        } else if (hasLabel(job.labels, settings.runner.label)) {
          // Cancelled before a runner took it, or done by another runner: ours may now be idle.
          reconciler.soon("a job completed without one of our runners");
        }
        return;
      }
      if (action !== "queued") {
        log.debug(fields, "workflow_job action not handled");
        return;
      }
      const decision = decideToServe(job, policy);
      if (!decision.serve) {
        if (decision.notOurs) log.debug({ ...fields, reason: decision.reason }, "job ignored");
        else log.info({ ...fields, reason: decision.reason }, "job refused by policy");
        return;
      }
      const queued = dispatcher.enqueue(job);
      log.info({ ...fields, repo: fullName(job.repository), labels: job.labels, duplicate: !queued }, "job queued for a runner");
    });

    addHandler(metrics.handler());
    addHandler(reconcileEndpoint(settings.reconcile.secret, (full) => reconciler.run({ full, reason: "http" })));

    // Resolve the Modal app and every profile's image now, so the first job does not wait for them.
    void fleet.prepare(config.profiles);
    if (options.reconcileOnTimer !== false) reconciler.start();

    options.onReady?.({
      dispatcher,
      metrics,
      fleet,
      reconciler,
      idle: async () => {
        await Promise.all([dispatcher.idle(), records.onIdle(), reconciler.idle()]);
      },
      stop: () => {
        reconciler.stop();
        dispatcher.stop();
        records.clear();
      },
    });
  };
}
