// The "observe" step of a reconcile pass: read our sandboxes from Modal, then, at
// GitHub, the registrations of the scopes involved and the queued jobs of the
// repositories worth sweeping. The cost is one Modal call per 100 sandboxes, one
// GitHub call per scope, one or two run listings per repository swept (conditional,
// so mostly free: runs in progress only where they can tell something, see
// run-jobs-memory.ts) and one job listing per run that changed since the last pass.
// Between full sweeps only repositories with recent activity (the quiet ones less
// often, see quiet-repository.ts), sandboxes, failed dispatches or what an earlier
// pass left unresolved (the watch list) are swept, however many repositories the
// installations hold. The App's installation list is
// read on full sweeps and whenever a sandbox exists (one JWT call per 100
// installations), so sandboxes of an installation that is gone or suspended are
// found without any event.
import PQueue from "p-queue";
import type { Logger } from "pino";
import { describeFailure } from "../lib/errors.js";
import type { AppOctokit } from "../github/create-octokit-class.js";
import { fullName, repositoryKey, type JobRef, type RepositoryRef } from "../model/job.js";
import { getRepository, listActiveRuns, listInstallationRepositories, listJobsOfRun, listQueuedJobsOfRun } from "../github/repositories.js";
import { parseRunnerName } from "../model/runner-name.js";
import { listRunners } from "../github/runner-registrations.js";
import { scopeFromKey, scopeKey, scopeServes } from "../model/runner-scope.js";
import { type RunnerScopes } from "../github/resolve-runner-scope.js";
import type { Fleet } from "../modal/fleet.js";
import type { Assignments } from "./assignments.js";
import { runnerKey, toObservedSandbox, type ObservedWorld, type ObservedRunner, type ObservedSandbox } from "./observation.js";
import { MAX_QUEUED_AGE_MS } from "./plan-repairs.js";
import { MAX_KNOWN_REPOSITORIES, type RepositoryDirectory } from "./repository-directory.js";
import { quietRepositoryDue } from "./quiet-repository.js";
import { BoundedMap } from "../lib/bounded.js";
import { RunJobsMemory, runsInProgressNeeded } from "./run-jobs-memory.js";
import { Sightings } from "../lib/sightings.js";
import { unresolvedIn, type WatchList } from "./watch-list.js";

export interface ObserveDeps {
  fleet: Fleet;
  /** An installation's client; calls through it count towards the pass's API cost. */
  octokitFor: (installationId: number) => Promise<AppOctokit>;
  /** The App's own (JWT) client, to list installations. */
  appOctokit: () => Promise<AppOctokit>;
  scopes: RunnerScopes;
  directory: RepositoryDirectory;
  /** What earlier passes saw and did not resolve. */
  watch: WatchList;
  /** Which job each of our busy runners runs. */
  assignments: Assignments;
  /** Jobs whose dispatch failed here. */
  unservedJobs: () => JobRef[];
  /** Whether the App serves a queued job (label, operator policy, a profile that fits). */
  wanted: (job: JobRef) => boolean;
  /** Starts reading an account's own policy file ahead of its jobs, in the background (full sweeps). */
  prefetchOrgPolicy?: (octokit: AppOctokit, owner: string) => void;
  namePrefix: string;
  activeRepositoryWindowMs: number;
  /** RECONCILE_INTERVAL: how often a quiet active repository is read follows from it (quiet-repository.ts); 0: every pass. */
  intervalMs: number;
  /** Runs younger than this hold no job the reconciler may serve yet: they are not read. */
  unservedJobGraceMs: number;
  log: Logger;
}

/** Modal could not be listed: without our sandboxes nothing can be decided. */
export class ModalUnobservable extends Error {
  constructor(readonly reason: string) {
    super(`could not observe Modal: ${reason}`);
  }
}

interface Target {
  repository: RepositoryRef;
  installationId: number;
}

/** The App's installations by id: whether each is suspended, and its account's login (absent for an enterprise). */
type Installations = Record<number, { suspended: boolean; account: string | undefined }>;

const CONCURRENCY = 8;
/** Run job listings a pass spends, at most, finding the jobs of busy runners no event told about. */
export const MAX_ASSIGNMENT_READS = 20;

export class Observer {
  // A pass forgets what it did not see, so these hold at most one pass's findings; the bound is a backstop.
  readonly #runnerWithoutSandbox = new Sightings(100_000);
  readonly #sandboxWithoutRunner = new Sightings(100_000);
  readonly #runJobs = new RunJobsMemory();
  /** When a pass last read each repository (by key): quiet active ones are read less often. */
  readonly #readAt = new BoundedMap<string, number>(MAX_KNOWN_REPOSITORIES);

  constructor(private readonly deps: ObserveDeps) {}

  /**
   * Throws ModalUnobservable only when Modal cannot be listed. A GitHub read that fails
   * leaves its part alone this pass; a failed installation list is the pass's `problem`.
   */
  async observe(now: number, full: boolean): Promise<ObservedWorld & { errors: number; problem?: string }> {
    const { deps } = this;
    let errors = 0;
    let problem: string | undefined;
    const failed = (what: Record<string, unknown>, error: unknown) => {
      errors++;
      deps.log.warn(
        { ...what, reason: describeFailure(error).reason },
        "reconcile could not read part of the world; it is left alone this pass",
      );
    };

    let sandboxes: ObservedSandbox[];
    try {
      sandboxes = (await deps.fleet.listRunnerSandboxes()).map(toObservedSandbox);
    } catch (error) {
      throw new ModalUnobservable(describeFailure(error).reason);
    }

    // The App's installations: on full sweeps (to find every repository) and whenever a
    // sandbox exists (to find those of installations that are gone or suspended).
    let installations: Installations | undefined;
    if (full || sandboxes.length > 0) {
      try {
        installations = await this.#installations();
      } catch (error) {
        failed({ what: "installations" }, error);
        problem = `could not observe GitHub: the App's installations: ${describeFailure(error).reason}`;
      }
    }
    /** An installation known to be gone or suspended has no token: nothing of it can be read. */
    const reachable = (installationId: number) => !installations || installations[installationId]?.suspended === false;

    // Repositories to sweep, by full name.
    const targets = new Map<string, Target>();
    const addTarget = (target: Target) => {
      if (reachable(target.installationId)) targets.set(repositoryKey(target.repository), target);
    };
    if (full && installations) {
      for (const target of await this.#everyRepository(installations, failed)) addTarget(target);
    }
    // Recently active repositories, the quiet ones less often; what follows (watched,
    // waiting or failed jobs, sandboxes) is read every pass.
    for (const known of deps.directory.activeSince(now - deps.activeRepositoryWindowMs))
      if (
        full ||
        quietRepositoryDue({ activeAt: known.activeAt, readAt: this.#readAt.get(repositoryKey(known.repository)) }, now, deps.intervalMs)
      )
        addTarget(known);
    for (const watched of deps.watch.repositories()) addTarget(watched);
    for (const job of deps.unservedJobs()) addTarget(job);
    const queue = new PQueue({ concurrency: CONCURRENCY });
    await queue.addAll(
      sandboxes
        .filter(
          (sandbox) =>
            sandbox.repository &&
            sandbox.installationId &&
            reachable(sandbox.installationId) &&
            !targets.has(repositoryKey(sandbox.repository)),
        )
        .map((sandbox) => async () => {
          const target = await this.#lookUp(sandbox.repository!, sandbox.installationId!).catch((error: unknown) =>
            failed({ repo: sandbox.repository }, error),
          );
          if (target) addTarget(target);
        }),
    );

    // Scopes whose registrations to list: those of our sandboxes, of every swept repository, and watched ones.
    const scopes = new Map<string, number>();
    const addScope = (key: string, installationId: number) => {
      if (reachable(installationId)) scopes.set(key, installationId);
    };
    for (const sandbox of sandboxes) if (sandbox.scopeKey && sandbox.installationId) addScope(sandbox.scopeKey, sandbox.installationId);
    for (const watched of deps.watch.scopes()) addScope(watched.scopeKey, watched.installationId);
    await queue.addAll(
      [...targets.values()].map((target) => async () => {
        try {
          const octokit = await deps.octokitFor(target.installationId);
          addScope(scopeKey(await deps.scopes.resolve(octokit, target)), target.installationId);
        } catch (error) {
          failed({ repo: fullName(target.repository) }, error);
        }
      }),
    );

    const runners: ObservedRunner[] = [];
    const listedScopes: string[] = [];
    const queuedJobs: JobRef[] = [];
    const scannedRepositories: string[] = [];
    /** Runs in progress, by repository: where a busy runner's job is looked for. */
    const runsInProgress = new Map<string, { target: Target; runIds: number[] }>();
    // Whole hours, so the request URL (and with it the ETag) stays the same between passes.
    const since = new Date(Math.floor((now - MAX_QUEUED_AGE_MS) / 3_600_000) * 3_600_000);
    // Registrations first: a busy runner whose job no event named is looked for among
    // the runs in progress of the repositories its scope serves, so those are listed.
    await queue.addAll(
      [...scopes].map(([key, installationId]) => async () => {
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
    );
    const unknownBusy = runners.filter((runner) => runner.busy && !deps.assignments.get(runner.name)?.job);
    await queue.addAll(
      [...targets.values()].map((target) => async () => {
        try {
          const octokit = await deps.octokitFor(target.installationId);
          const key = repositoryKey(target.repository);
          const inProgress = runsInProgressNeeded({
            full,
            holdsQueued: this.#runJobs.holdsQueued(key),
            unknownBusyRunner: unknownBusy.some((runner) => scopeServes(runner.scopeKey, target.repository)),
          });
          const runs = await listActiveRuns(octokit, target.repository, since, inProgress ? ["queued", "in_progress"] : ["queued"]);
          if (inProgress)
            runsInProgress.set(key, { target, runIds: runs.filter((run) => run.status === "in_progress").map((run) => run.id) });
          const { jobs } = await this.#runJobs.queuedJobs(
            runs,
            (runId) => listQueuedJobsOfRun(octokit, target.repository, runId, target.installationId),
            {
              refresh: full,
              youngerThan: now - deps.unservedJobGraceMs,
              repository: { key, complete: inProgress },
            },
          );
          queuedJobs.push(...jobs.filter(deps.wanted));
          scannedRepositories.push(fullName(target.repository));
          this.#readAt.set(key, now);
        } catch (error) {
          failed({ repo: fullName(target.repository) }, error);
        }
      }),
    );

    const sandboxNames = new Set(sandboxes.map((sandbox) => sandbox.name));
    const runnerKeys = new Set(runners.map((runner) => runnerKey(runner.scopeKey, runner.name)));
    const listed = new Set(listedScopes);
    const sandboxWithoutRunner = sandboxes.filter(
      (sandbox) => sandbox.scopeKey && listed.has(sandbox.scopeKey) && !runnerKeys.has(runnerKey(sandbox.scopeKey, sandbox.name)),
    );

    // What our busy runners run: a runner listed idle, or deregistered, runs nothing.
    const listedBusy = new Set(runners.filter((runner) => runner.busy).map((runner) => runner.name));
    deps.assignments.listed(
      runners,
      [
        // A runner whose sandbox is gone runs nothing, unless GitHub still lists it busy (it may, a while).
        ...deps.assignments.runnerNames().filter((name) => !sandboxNames.has(name) && !listedBusy.has(name)),
        ...sandboxWithoutRunner.map((sandbox) => sandbox.name),
      ],
      now,
    );
    await this.#findAssignments(
      runners.filter((runner) => runner.busy && !deps.assignments.get(runner.name)?.job),
      runsInProgress,
      now,
      failed,
    );
    const assignments = runners.flatMap((runner) => {
      const assignment = runner.busy ? deps.assignments.get(runner.name) : undefined;
      return assignment?.job ? [{ runnerName: runner.name, job: assignment.job, checked: assignment.checked }] : [];
    });

    const world: ObservedWorld = {
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
        sandboxWithoutRunner.map((sandbox) => sandbox.name),
        now,
      ),
      installations,
      assignments,
      busySince: deps.assignments.busySince(),
    };
    deps.watch.update(unresolvedIn(world), { repositories: scannedRepositories, scopes: listedScopes }, now);
    return { ...world, errors, problem };
  }

  /** The App's installations (JWT): which exist, which are suspended, and their accounts. */
  async #installations(): Promise<Installations> {
    const app = await this.deps.appOctokit();
    const listed = await app.paginate(app.rest.apps.listInstallations, { per_page: 100 });
    return Object.fromEntries(
      listed.map((installation) => {
        const account = installation.account && "login" in installation.account ? installation.account.login : undefined;
        return [installation.id, { suspended: Boolean(installation.suspended_at), account }];
      }),
    );
  }

  /**
   * Every repository of every installation that is not suspended (full sweeps only: the
   * cost grows with them). Installations are listed CONCURRENCY at a time: one after the
   * other, a token and a listing each, 100 installations took 19 s at 50 ms a call, and
   * the start-up sweep (what finds the jobs queued while the App was down) with them.
   */
  async #everyRepository(installations: Installations, failed: (what: Record<string, unknown>, error: unknown) => void): Promise<Target[]> {
    const { deps } = this;
    const byInstallation = new Map<number, Target[]>();
    const queue = new PQueue({ concurrency: CONCURRENCY });
    await queue.addAll(
      Object.entries(installations)
        .filter(([, installation]) => !installation.suspended)
        .map(([id, { account }]) => async () => {
          const installationId = Number(id);
          try {
            const octokit = await deps.octokitFor(installationId);
            // The org's policy file, read behind the sweep (which does not wait for it): the
            // org's first job then waits for its repository's file only.
            if (account) deps.prefetchOrgPolicy?.(octokit, account);
            const repositories = await listInstallationRepositories(octokit);
            byInstallation.set(
              installationId,
              repositories.map((repository) => ({ repository, installationId })),
            );
          } catch (error) {
            failed({ installationId }, error);
          }
        }),
    );
    // In the installations' order, whatever order the listings ended in.
    const targets: Target[] = [];
    for (const id of Object.keys(installations)) {
      for (const target of byInstallation.get(Number(id)) ?? []) {
        deps.directory.remember(target.repository, target.installationId);
        targets.push(target);
      }
    }
    return targets;
  }

  /**
   * Busy runners no in_progress event told about: their jobs are looked for among the
   * runs in progress of the repositories their scope serves, at most
   * MAX_ASSIGNMENT_READS run listings per pass. A runner whose job is not found is
   * noted busy (its job is looked for again next pass).
   */
  async #findAssignments(
    unknown: ObservedRunner[],
    runsInProgress: Map<string, { target: Target; runIds: number[] }>,
    now: number,
    failed: (what: Record<string, unknown>, error: unknown) => void,
  ): Promise<void> {
    const { deps } = this;
    if (unknown.length === 0) return;
    const wanted = new Map(unknown.map((runner) => [runner.name, runner]));
    const serves = (runner: ObservedRunner, target: Target) => scopeServes(runner.scopeKey, target.repository);
    const runs = new Map<number, Target>();
    for (const runner of unknown)
      for (const { target, runIds } of runsInProgress.values())
        if (serves(runner, target)) for (const runId of runIds) runs.set(runId, target);
    let reads = 0;
    for (const [runId, target] of runs) {
      if (wanted.size === 0 || reads >= MAX_ASSIGNMENT_READS) break;
      reads++;
      try {
        const jobs = await listJobsOfRun(await deps.octokitFor(target.installationId), target.repository, runId, target.installationId);
        for (const { job, status, runnerName } of jobs) {
          if (status !== "in_progress" || runnerName === undefined || !wanted.has(runnerName)) continue;
          deps.assignments.took(runnerName, job, now, now, false);
          wanted.delete(runnerName);
        }
      } catch (error) {
        failed({ repo: fullName(target.repository), runId }, error);
      }
    }
    for (const name of wanted.keys()) deps.assignments.took(name, undefined, now, now, false);
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
