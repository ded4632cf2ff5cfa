// What the status page shows, as plain data: the App builds one from its caches on
// each request, the page renders it, /status.json returns it as is. By construction
// it holds no secret: no tokens, no JIT configs, no environment, only ids, names,
// counts, times and reasons. (Reasons and errors come from the App's own outcome
// descriptions; the App must not put a secret into one, as for a log line.)

import type { RunnerCurrency } from "./runner-currency.js";

/** Times are ISO 8601 strings, so the JSON form and the HTML form say the same. */
export type IsoTime = string;

export interface StatusSnapshot {
  generatedAt: IsoTime;
  installations: InstallationStatus[];
  /** Jobs the App knows of, by installation and profile. */
  jobs: JobCounts[];
  /** Every job's story of the last 24 hours (at most 5,000), newest first; filtered by the page's query. */
  jobStories: JobStory[];
  /** Queue time per profile, of jobs that started in the last hour. */
  queueTimes: QueueTimes[];
  sandboxes: SandboxStatus[];
  reconciler: ReconcilerStatus;
  /** Whether Modal answers, in plain words. */
  modal: Reachability;
  /** Whether GitHub answers: App authentication, installation tokens and the API. */
  github: Reachability;
  /** The start-up doctor's results (absent until they ran, or when they were not run). */
  doctor?: DoctorResult[];
  /** Estimated Modal spend since midnight UTC, by installation and profile (see cost.ts). */
  spendToday: Spend[];
  /** The runner version in the images against GitHub's latest release (see runner-currency.ts). */
  runnerVersion?: RunnerCurrency;
  /** The replicas of a fleet sharing Redis (REDIS_URL); absent for a single process. */
  fleet?: StatusFleet;
}

export interface StatusFleet {
  /** "shared": Redis answers; "degraded": it does not, each replica serves on a local share. */
  mode: "shared" | "degraded";
  /** "ok", or "degraded: Redis unreachable". */
  health: string;
  /** The replica that answered. */
  replica: string;
  /** Redis round trips this replica has made since it started. */
  redisRoundTrips: number;
  /** Every replica that published its view within the TTL (only this one while degraded). */
  replicas: Array<{
    replica: string;
    seenAt: IsoTime;
    startedAt: IsoTime;
    health: string;
    waiting: number;
    dispatching: number;
    lastPassAt?: IsoTime;
    budget: Array<{ installation: string; points: number; capacity: number; inFlight: number }>;
  }>;
}

export interface InstallationStatus {
  id: number;
  /** The org or user login the App is installed on. */
  account: string;
  /** GitHub rate-limit headroom; absent until the App has made a call. */
  githubBudget?: { remaining: number; limit: number; resetAt?: IsoTime };
}

export interface JobCounts {
  installation: number;
  profile: string;
  waiting: number;
  dispatching: number;
  running: number;
}

/**
 * One job as the App saw it. `outcome` is one word: queued, waiting, refused,
 * starting (its runner is booting), running, then GitHub's conclusion (success,
 * failure, cancelled, …) or stopped (the App stopped the runner that took it).
 */
export interface JobStory {
  jobId: number;
  runId: number;
  name: string;
  /** owner/name */
  repo: string;
  installationId: number;
  /** The job on GitHub (`html_url` from its webhook). */
  htmlUrl?: string | undefined;
  firstSeenAt: IsoTime;
  /** When GitHub queued it. */
  queuedAt?: IsoTime | undefined;
  startedAt?: IsoTime | undefined;
  finishedAt?: IsoTime | undefined;
  outcome: string;
  /** GitHub's conclusion from workflow_job.completed. */
  conclusion?: string | undefined;
  /** Who stopped it and why, when the App stopped its runner. */
  stoppedBy?: string | undefined;
  /** How the App learnt of it: its queued webhook, or a reconcile pass (a lost webhook). */
  via?: "webhook" | "reconciler" | undefined;
  /** The runner that ran it (from workflow_job.in_progress). */
  runner?: string | undefined;
  /** When that runner was made for another job: that job's id. */
  runnerMadeFor?: number | undefined;
  /** The sandbox the App started for this job (its runner's name). */
  sandbox?: string | undefined;
  profile?: string | undefined;
  queueSeconds?: number | undefined;
  runSeconds?: number | undefined;
  /** Estimated Modal cost of the sandbox that ran it, once it ended. */
  dollars?: number | undefined;
  /** Why it waited before it started (a cap, or Modal unreachable), if it did. */
  waitedFor?: string | undefined;
  /** The dispatcher's last word on it (e.g. "waiting: cap reached: …"). */
  note?: string | undefined;
}

export interface QueueTimes {
  profile: string;
  jobs: number;
  /** Seconds. */
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface Reachability {
  reachable: boolean;
  /** Since when it has been unreachable. */
  since?: IsoTime;
  /** When the App tries again (Modal). */
  nextTryAt?: IsoTime;
  /** One short reason. */
  reason?: string;
}

export interface DoctorResult {
  check: string;
  status: "ok" | "warn" | "fail";
  detail: string;
  fix?: string;
}

export type SandboxState = "idle" | "busy" | "finished";

export interface SandboxStatus {
  name: string;
  createdAt: IsoTime;
  /** The job it was made for (its tags). */
  madeFor?: number;
  /** The job its runner took (workflow_job.in_progress), when seen: may differ from madeFor. */
  jobId?: number;
  repo?: string;
  profile: string;
  state: SandboxState;
}

export interface ReconcilePassStatus {
  at: IsoTime;
  ok: boolean;
  durationMs: number;
  /** Repairs made, by kind. */
  repairs: Record<string, number>;
  errors: string[];
  /** What the pass could not observe, GitHub or Modal, and why (absent: it saw everything it looked for). */
  problem?: string;
}

export interface ReconcilerStatus {
  lastPass?: ReconcilePassStatus;
  lastSuccessAt?: IsoTime;
}

export interface Spend {
  installation: number;
  profile: string;
  dollars: number;
}
