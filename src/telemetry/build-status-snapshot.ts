// Builds the status page's snapshot from what the App's parts know, as plain data.
// Pure: the same inputs give the same page, so it is tested without a server.
import type { BreakerSnapshot } from "../modal/circuit-breaker.js";
import type { RunnerCurrency } from "./runner-currency.js";
import type { LedgerEntry } from "./sandbox-ledger.js";
import type {
  DoctorResult,
  JobCounts,
  JobStory,
  QueueTimes,
  Reachability,
  ReconcilePassStatus,
  SandboxStatus,
  Spend,
  StatusSnapshot,
} from "./status-snapshot.js";

export interface StatusSources {
  now: number;
  /** Jobs being dispatched or waiting here, by installation and profile. */
  jobs: Array<{ installationId: number; profile: string | undefined; state: "waiting" | "dispatching" }>;
  sandboxes: LedgerEntry[];
  /** Runner names GitHub reported busy in the last reconcile pass. */
  busyRunners: Set<string>;
  /** Installation id → account login, as far as the App has seen them. */
  accounts: Map<number, string>;
  budget: (installationId: number) => { points: number; capacity: number; pausedUntil?: number | undefined };
  jobStories: JobStory[];
  queueTimes: QueueTimes[];
  /** The job a runner took (workflow_job.in_progress), when seen. */
  jobRunBy: (runnerName: string) => number | undefined;
  github: Reachability;
  doctor: DoctorResult[] | undefined;
  lastPass: ReconcilePassStatus | undefined;
  lastSuccessAt: number | undefined;
  breaker: BreakerSnapshot;
  spendToday: Spend[];
  runnerVersion?: RunnerCurrency | undefined;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Jobs by installation and profile: waiting and dispatching here, running on our
 * busy runners. The status page shows it; the metrics gauge reads it too.
 */
export function countJobs(sources: Pick<StatusSources, "jobs" | "sandboxes" | "busyRunners">): JobCounts[] {
  const counts = new Map<string, JobCounts>();
  const countFor = (installation: number, profile: string) => {
    const key = `${installation} ${profile}`;
    let entry = counts.get(key);
    if (!entry) counts.set(key, (entry = { installation, profile, waiting: 0, dispatching: 0, running: 0 }));
    return entry;
  };
  for (const job of sources.jobs) countFor(job.installationId, job.profile ?? "(choosing)")[job.state]++;
  for (const sandbox of sources.sandboxes)
    if (sources.busyRunners.has(sandbox.name)) countFor(sandbox.installationId, sandbox.profile).running++;
  return [...counts.values()].sort((a, b) => a.installation - b.installation || a.profile.localeCompare(b.profile));
}

export function buildStatusSnapshot(sources: StatusSources): StatusSnapshot {
  const sandboxes: SandboxStatus[] = sources.sandboxes
    .map((sandbox) => ({
      name: sandbox.name,
      createdAt: iso(sandbox.createdAt),
      madeFor: sandbox.jobId,
      jobId: sources.jobRunBy(sandbox.name),
      repo: sandbox.repository,
      profile: sandbox.profile,
      state: sources.busyRunners.has(sandbox.name) ? ("busy" as const) : ("idle" as const),
    }))
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt));

  const installationIds = new Set([
    ...sources.accounts.keys(),
    ...sources.jobs.map((job) => job.installationId),
    ...sources.sandboxes.map((sandbox) => sandbox.installationId),
  ]);
  const installations = [...installationIds]
    .sort((a, b) => a - b)
    .map((id) => {
      const budget = sources.budget(id);
      return {
        id,
        account: sources.accounts.get(id) ?? String(id),
        githubBudget: {
          remaining: Math.floor(budget.points),
          limit: budget.capacity,
          ...(budget.pausedUntil ? { resetAt: iso(budget.pausedUntil) } : {}),
        },
      };
    });

  return {
    generatedAt: iso(sources.now),
    installations,
    jobs: countJobs(sources),
    jobStories: sources.jobStories,
    queueTimes: sources.queueTimes,
    sandboxes,
    reconciler: { lastPass: sources.lastPass, lastSuccessAt: sources.lastSuccessAt === undefined ? undefined : iso(sources.lastSuccessAt) },
    modal: modalReachability(sources.breaker),
    github: sources.github,
    spendToday: sources.spendToday,
    ...(sources.runnerVersion && { runnerVersion: sources.runnerVersion }),
    ...(sources.doctor ? { doctor: sources.doctor } : {}),
  };
}

/**
 * Modal in plain words: reachable, or unreachable since when, when the App tries
 * again, and one short reason. (The breaker's own words, open and closed, read
 * backwards to most people; its reason repeats prefixes as errors are wrapped.)
 */
export function modalReachability(breaker: BreakerSnapshot): Reachability {
  if (breaker.state === "closed") return { reachable: true };
  return { reachable: false, since: iso(breaker.openedAt), nextTryAt: iso(breaker.nextProbeAt), reason: shortReason(breaker.reason) };
}

/** One reason, once: drops the "Modal is unavailable (circuit open):" wrappers and cuts it short. */
export function shortReason(reason: string, max = 160): string {
  let text = reason;
  for (let previous = ""; previous !== text;) {
    previous = text;
    text = text.replace(/^\s*(Modal is unavailable( \(circuit open\))?|Modal:|circuit open)\s*:?\s*/i, "");
  }
  text = text.trim() || reason.trim();
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
