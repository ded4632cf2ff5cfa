// The "observe" step of a reconcile pass: read our sandboxes from Modal, then, at
// GitHub, the registrations of the scopes involved and the queued jobs of the
// repositories worth sweeping. The cost is one Modal call per 100 sandboxes, one
// GitHub call per scope, two run listings per repository swept (conditional, so
// mostly free) and one job listing per run that changed since the last pass.
// Between full sweeps only repositories with recent activity, sandboxes or failed
// dispatches are swept, however many repositories the installations hold.
import PQueue from "p-queue";
import type { Logger } from "pino";
import { describeFailure } from "../lib/errors.js";
import type { AppOctokit } from "../github/create-octokit-class.js";
import { fullName, repositoryKey, type JobRef, type RepositoryRef } from "../model/job.js";
import { getRepository, listActiveRuns, listInstallationRepositories, listQueuedJobsOfRun } from "../github/repositories.js";
import { parseRunnerName } from "../model/runner-name.js";
import { listRunners } from "../github/runner-registrations.js";
import { scopeFromKey, scopeKey } from "../model/runner-scope.js";
import { type RunnerScopes } from "../github/runner-scope.js";
import type { Fleet } from "../modal/fleet.js";
import { runnerKey, toObservedSandbox, type Observation, type ObservedRunner } from "./observation.js";
import { MAX_QUEUED_AGE_MS } from "./plan-repairs.js";
import type { RepositoryDirectory } from "./repository-directory.js";
import { RunJobsMemory } from "./run-jobs-memory.js";
import { Sightings } from "./sightings.js";

export interface ObserveDeps {
  fleet: Fleet;
  /** An installation's client; calls through it count towards the pass's API cost. */
  octokitFor: (installationId: number) => Promise<AppOctokit>;
  /** The App's own (JWT) client, to list installations. */
  appOctokit: () => Promise<AppOctokit>;
  scopes: RunnerScopes;
  directory: RepositoryDirectory;
  /** Jobs whose dispatch failed here. */
  unservedJobs: () => JobRef[];
  /** Whether the App serves a queued job (label, operator policy, a profile that fits). */
  wanted: (job: JobRef) => boolean;
  namePrefix: string;
  activeRepositoryWindowMs: number;
  /** Runs younger than this hold no job the reconciler may serve yet: they are not read. */
  unservedJobGraceMs: number;
  log: Logger;
}

interface Target {
  repository: RepositoryRef;
  installationId: number;
}

const CONCURRENCY = 8;

export class Observer {
  readonly #runnerWithoutSandbox = new Sightings();
  readonly #sandboxWithoutRunner = new Sightings();
  readonly #runJobs = new RunJobsMemory();

  constructor(private readonly deps: ObserveDeps) {}

  /** Throws only when Modal cannot be listed: without it nothing can be decided. */
  async observe(now: number, full: boolean): Promise<Observation & { errors: number }> {
    const { deps } = this;
    let errors = 0;
    const failed = (what: Record<string, unknown>, error: unknown) => {
      errors++;
      deps.log.warn(
        { ...what, reason: describeFailure(error).reason },
        "reconcile could not read part of the world; it is left alone this pass",
      );
    };

    const sandboxes = (await deps.fleet.listRunnerSandboxes()).map(toObservedSandbox);

    // Repositories to sweep, by full name.
    const targets = new Map<string, Target>();
    const addTarget = (target: Target) => targets.set(repositoryKey(target.repository), target);
    if (full) {
      for (const target of await this.#everyRepository(failed)) addTarget(target);
    }
    for (const known of deps.directory.activeSince(now - deps.activeRepositoryWindowMs)) addTarget(known);
    for (const job of deps.unservedJobs()) addTarget(job);
    const queue = new PQueue({ concurrency: CONCURRENCY });
    await queue.addAll(
      sandboxes
        .filter((sandbox) => sandbox.repository && sandbox.installationId && !targets.has(repositoryKey(sandbox.repository)))
        .map((sandbox) => async () => {
          const target = await this.#lookUp(sandbox.repository!, sandbox.installationId!).catch((error: unknown) =>
            failed({ repo: sandbox.repository }, error),
          );
          if (target) addTarget(target);
        }),
    );

    // Scopes whose registrations to list: those of our sandboxes and of every swept repository.
    const scopes = new Map<string, number>();
    for (const sandbox of sandboxes) if (sandbox.scopeKey && sandbox.installationId) scopes.set(sandbox.scopeKey, sandbox.installationId);
    await queue.addAll(
      [...targets.values()].map((target) => async () => {
        try {
          const octokit = await deps.octokitFor(target.installationId);
          scopes.set(scopeKey(await deps.scopes.resolve(octokit, target)), target.installationId);
        } catch (error) {
          failed({ repo: fullName(target.repository) }, error);
        }
      }),
    );

    const runners: ObservedRunner[] = [];
    const listedScopes: string[] = [];
    const queuedJobs: JobRef[] = [];
    const scannedRepositories: string[] = [];
    // Whole hours, so the request URL (and with it the ETag) stays the same between passes.
    const since = new Date(Math.floor((now - MAX_QUEUED_AGE_MS) / 3_600_000) * 3_600_000);
    await queue.addAll([
      ...[...scopes].map(([key, installationId]) => async () => {
        try {
          const registrations = await listRunners(await deps.octokitFor(installationId), scopeFromKey(key)!);
          for (const registration of registrations) {
            if (parseRunnerName(deps.namePrefix, registration.name)) runners.push({ ...registration, scopeKey: key, installationId });
          }
          listedScopes.push(key);
        } catch (error) {
          failed({ scope: key }, error);
        }
      }),
      ...[...targets.values()].map((target) => async () => {
        try {
          const octokit = await deps.octokitFor(target.installationId);
          const runs = await listActiveRuns(octokit, target.repository, since);
          const { jobs } = await this.#runJobs.queuedJobs(
            runs,
            (runId) => listQueuedJobsOfRun(octokit, target.repository, runId, target.installationId),
            {
              refresh: full,
              youngerThan: now - deps.unservedJobGraceMs,
            },
          );
          queuedJobs.push(...jobs.filter(deps.wanted));
          scannedRepositories.push(fullName(target.repository));
        } catch (error) {
          failed({ repo: fullName(target.repository) }, error);
        }
      }),
    ]);

    const sandboxNames = new Set(sandboxes.map((sandbox) => sandbox.name));
    const runnerKeys = new Set(runners.map((runner) => runnerKey(runner.scopeKey, runner.name)));
    const listed = new Set(listedScopes);
    return {
      now,
      sandboxes,
      runners,
      listedScopes,
      queuedJobs,
      scannedRepositories,
      runnerWithoutSandboxSince: this.#runnerWithoutSandbox.update(
        runners.filter((runner) => !sandboxNames.has(runner.name)).map((runner) => runnerKey(runner.scopeKey, runner.name)),
        now,
      ),
      sandboxWithoutRunnerSince: this.#sandboxWithoutRunner.update(
        sandboxes
          .filter(
            (sandbox) => sandbox.scopeKey && listed.has(sandbox.scopeKey) && !runnerKeys.has(runnerKey(sandbox.scopeKey, sandbox.name)),
          )
          .map((sandbox) => sandbox.name),
        now,
      ),
      dispatching: [],
      errors,
    };
  }

  /** Every repository of every installation (full sweeps only: the cost grows with them). */
  async #everyRepository(failed: (what: Record<string, unknown>, error: unknown) => void): Promise<Target[]> {
    const { deps } = this;
    const app = await deps.appOctokit();
    const installations = await app.paginate(app.rest.apps.listInstallations, { per_page: 100 });
    const targets: Target[] = [];
    for (const installation of installations) {
      try {
        const repositories = await listInstallationRepositories(await deps.octokitFor(installation.id));
        for (const repository of repositories) {
          deps.directory.remember(repository, installation.id);
          targets.push({ repository, installationId: installation.id });
        }
      } catch (error) {
        failed({ installationId: installation.id }, error);
      }
    }
    return targets;
  }

  async #lookUp(name: string, installationId: number): Promise<Target> {
    const known = this.deps.directory.get(name);
    if (known) return known;
    const [owner, repo] = name.split("/") as [string, string];
    const repository = await getRepository(await this.deps.octokitFor(installationId), owner, repo);
    this.deps.directory.remember(repository, installationId);
    return { repository, installationId };
  }
}
