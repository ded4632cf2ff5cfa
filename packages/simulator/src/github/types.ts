// Public shapes of the fake GitHub (re-exported by ../fake-github.ts) and its internal records.

export interface FakeInstallation {
  id: number;
  account: { login: string; id: number; type: "Organization" | "User" };
  permissions: Record<string, "read" | "write">;
  /** Set while an owner has suspended the installation: it stays listed, its tokens are refused. */
  suspendedAt?: Date;
  /** "all": the installation sees every repository of its account; "selected": only those chosen. */
  repositorySelection: "all" | "selected";
}

export interface FakeRepository {
  id: number;
  owner: string;
  name: string;
  fullName: string;
  private: boolean;
  visibility: "public" | "private" | "internal";
  installationId: number;
  /** false: the repository exists, but the installation (on "selected" repositories) was not given it. */
  selected: boolean;
}

export interface FakeRunner {
  id: number;
  name: string;
  os: string;
  status: "online" | "offline";
  busy: boolean;
  labels: string[];
  runnerGroupId: number;
  ephemeral: boolean;
  scope: { kind: "org"; org: string } | { kind: "repo"; owner: string; repo: string };
  installationId: number;
  jitConfig: string;
}

export interface FakeJob {
  id: number;
  runId: number;
  runAttempt: number;
  owner: string;
  repo: string;
  name: string;
  workflowName: string;
  headBranch: string;
  headSha: string;
  labels: string[];
  status: "queued" | "in_progress" | "completed" | "waiting";
  conclusion: null | "success" | "failure" | "cancelled";
  createdAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
  runnerId: number | null;
  runnerName: string | null;
  runnerGroupId: number | null;
  runnerGroupName: string | null;
}

export interface RecordedRequest {
  method: string;
  /** route path, without the /api/v3 prefix and without the query */
  path: string;
  /** OpenAPI template, e.g. "/repos/{owner}/{repo}/actions/jobs/{job_id}", or "" */
  route: string;
  query: Record<string, string>;
  body: unknown;
  status: number;
  installationId?: number;
  at: number;
}

export interface DeliveryResult {
  /** HTTP status of the App's answer; 0 when the delivery failed (refused, timed out, no webhookUrl) */
  status: number;
  body: string;
  ms: number;
  deliveryId: string;
}

/** Every webhook the fake sent (or tried to), in order. */
export interface DeliveryRecord extends DeliveryResult {
  event: string;
  action: string | undefined;
  /** the raw body that was sent */
  payload: string;
  signature: "valid" | "wrong" | "missing";
  error?: string;
  at: number;
}

export type SignatureMode = "valid" | "wrong" | "missing";

export interface FakeRunnerGroup {
  id: number;
  name: string;
  visibility: "all" | "selected" | "private";
  default: boolean;
  /** repository full names (lower case) a "selected" group may serve */
  selectedRepositories: Set<string>;
  allowsPublicRepositories: boolean;
}

export interface Account {
  login: string;
  id: number;
  type: "Organization" | "User";
}

export interface WorkflowRun {
  id: number;
  owner: string;
  repo: string;
  runNumber: number;
  runAttempt: number;
  workflowId: number;
  workflowName: string;
  path: string;
  event: string;
  headBranch: string;
  headSha: string;
  createdAt: Date;
}

export interface InstallationToken {
  token: string;
  installationId: number;
  expiresAt: Date;
  permissions: Record<string, "read" | "write">;
  /** ids of the repositories the token was narrowed to, if it was */
  repositoryIds?: Set<number>;
}

export interface FaultResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export interface FaultMatch {
  method?: string;
  /** an OpenAPI template (exact) or a RegExp tested against the template and the path */
  route?: string | RegExp;
}
