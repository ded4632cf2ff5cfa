// What the status page shows, as plain data: the App builds one from its caches on
// each request, the page renders it, /status.json returns it as is. By construction
// it holds no secret: no tokens, no JIT configs, no environment, only ids, names,
// counts, times and reasons. (Reasons and errors come from the App's own outcome
// descriptions; the App must not put a secret into one, as for a log line.)

/** Times are ISO 8601 strings, so the JSON form and the HTML form say the same. */
export type IsoTime = string;

export interface StatusSnapshot {
  generatedAt: IsoTime;
  installations: InstallationStatus[];
  /** Jobs the App knows of, by installation and profile. */
  jobs: JobCounts[];
  /** The last job outcomes (about 50), newest first. */
  outcomes: JobOutcome[];
  sandboxes: SandboxStatus[];
  reconciler: ReconcilerStatus;
  modalBreaker: BreakerStatus;
  /** Estimated Modal spend since midnight UTC, by installation and profile (see cost.ts). */
  spendToday: Spend[];
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

export interface JobOutcome {
  at: IsoTime;
  jobId: number;
  /** owner/name */
  repo: string;
  /** The dispatcher's outcome kind (started, refused, waiting, failed…). */
  kind: string;
  reason?: string;
}

export type SandboxState = "idle" | "busy" | "finished";

export interface SandboxStatus {
  name: string;
  createdAt: IsoTime;
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
}

export interface ReconcilerStatus {
  lastPass?: ReconcilePassStatus;
  lastSuccessAt?: IsoTime;
}

export interface BreakerStatus {
  state: "closed" | "open" | "half-open";
  since?: IsoTime;
  nextProbeAt?: IsoTime;
}

export interface Spend {
  installation: number;
  profile: string;
  dollars: number;
}
