// A fake GitHub (Enterprise Server flavoured) for tests and benchmarks: a real HTTP
// server on 127.0.0.1 that serves the REST routes the App uses under /api/v3, keeps
// state (installations, repositories, workflow runs and jobs, self-hosted runners),
// checks every request and its own responses against GitHub's OpenAPI description
// (when asked: `checkOpenApi`, on unless turned off, as the demo does), and delivers
// signed workflow_job webhooks built from GitHub's example payloads.
//
// This file keeps the state and the HTTP plumbing (authentication, faults, rate-limit
// headers, ETags, pagination); the routes live by area in github/routes-*.ts.
//
// The App reaches it through real Octokit: GHE_HOST=<fake.host>, GHE_PROTOCOL=http,
// APP_ID=<fake.appId>, PRIVATE_KEY=<fake.privateKey>, WEBHOOK_SECRET=<fake.webhookSecret>.
import crypto from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { registerAppHookConfig } from "./github/app-hook-config.js";
import { appKey, type AppKey } from "./github/app-key.js";
import { registerAppManifestConversions } from "./github/app-manifest-conversions.js";
import { DeliveryLog } from "./github/delivery-log.js";
import type { OpenApi, RouteMatch } from "./github/openapi.js";
import { RouteTable } from "./github/route-table.js";
import { registerActionsRoutes } from "./github/routes-actions.js";
import { registerAppRoutes } from "./github/routes-app.js";
import { registerInstallationRoutes } from "./github/routes-installation.js";
import { registerRepositoryRoutes } from "./github/routes-repos.js";
import { registerReleaseRoutes, type FakeRelease } from "./github/routes-releases.js";
import { registerRunnerRoutes } from "./github/routes-runners.js";
import { HttpError, lc, type Ctx, type Handler, type Permissions, type Reply } from "./github/route-kit.js";
import { decodeJitConfig } from "./github/jit-config.js";
import { SecondaryLimits } from "./github/secondary-limits.js";
import {
  installationObject,
  iso,
  jobObject,
  organizationObject,
  randomHex,
  repositoryObject,
  userObject,
  type Urls,
} from "./github/shapes.js";
import { exampleFor, send } from "./github/webhooks.js";
import type {
  Account,
  DeliveryRecord,
  DeliveryResult,
  FakeInstallation,
  FakeJob,
  FakeRepository,
  FakeRunner,
  FakeRunnerGroup,
  FaultMatch,
  FaultResponse,
  InstallationToken,
  RecordedRequest,
  SignatureMode,
  WorkflowRun,
} from "./github/types.js";

export type {
  DeliveryRecord,
  DeliveryResult,
  FakeInstallation,
  FakeJob,
  FakeRepository,
  FakeRunner,
  FakeRunnerGroup,
  FaultMatch,
  FaultResponse,
  RecordedRequest,
  SignatureMode,
} from "./github/types.js";

type WorkflowJobAction = "queued" | "in_progress" | "completed" | "waiting";

export const DEFAULT_PERMISSIONS: Readonly<Permissions> = Object.freeze({
  actions: "read",
  administration: "write",
  organization_self_hosted_runners: "write",
  metadata: "read",
  // What app.yml asks for, to read .github/modal-runner.yml.
  single_file: "read",
});

const DOCS = "https://docs.github.com/rest";
const WEBHOOK_TIMEOUT_MS = 10_000; // GitHub gives up on a delivery after 10 s
const HOOK_ID = 424242;

export { decodeJitConfig, type DecodedJitConfig } from "./github/jit-config.js";

function errorBody(status: number, message: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { message, documentation_url: DOCS, status: String(status), ...extra };
}

function defaultMessage(status: number): string {
  switch (status) {
    case 401:
      return "Bad credentials";
    case 403:
      return "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.";
    case 404:
      return "Not Found";
    case 409:
      return "Conflict";
    case 422:
      return "Validation Failed";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    default:
      return `Error ${status}`;
  }
}

type Auth =
  { kind: "none"; reason: string } | { kind: "app"; error?: string } | { kind: "installation"; token?: InstallationToken; error?: string };

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function intParam(v: string | undefined, fallback: number): number {
  const n = v === undefined ? NaN : Number.parseInt(v, 10);
  return Number.isFinite(n) ? n : fallback;
}

interface Fault {
  match: FaultMatch;
  response: FaultResponse;
  remaining: number;
}

export interface StartOptions {
  /**
   * Check every request, response and webhook against GitHub's OpenAPI description
   * (violations land in `violations`). Default true: what tests want. The demo turns
   * it off: the description (@octokit/openapi, with ajv) is a devDependency of 385 MB,
   * loaded only when this is on.
   */
  checkOpenApi?: boolean;
  webhookSecret?: string;
  latencyMs?: number;
  webhookUrl?: string;
  appId?: number;
  /**
   * GitHub's time: when jobs are queued, start and complete, when deliveries happen,
   * and the secondary limits' window. Default: the wall clock. A test that skips the App's time ahead passes the same
   * clock's now, so a job queued after the skip is not already old to the App. (Tokens
   * and JWTs stay on the wall clock: Octokit's, which mints and refreshes them.)
   */
  now?: () => number;
}

export class FakeGitHub {
  readonly baseUrl: string;
  readonly host: string;
  readonly appId: number;
  readonly appSlug = "fake-modal-runners";
  readonly privateKey: string;
  webhookSecret: string;
  webhookUrl: string | undefined;
  latencyMs: number;
  /** GitHub's time (StartOptions.now). */
  readonly now: () => number;

  readonly requests: RecordedRequest[] = [];
  readonly violations: string[] = [];
  /** every webhook delivery the fake made, in the order they were started */
  readonly deliveries: DeliveryRecord[] = [];
  /** GitHub's delivery log of the App's webhook (GET /app/hook/deliveries…), and the ingress-down switch */
  readonly hookDeliveries: DeliveryLog;
  /** GitHub's secondary rate limits, off until enable(); their window runs on GitHub's time (`now`) */
  readonly secondaryLimits = new SecondaryLimits(() => this.now());

  private readonly server: http.Server;
  private readonly publicKey: crypto.KeyObject;
  /** undefined when checkOpenApi is off: routing then uses the table of registered routes alone */
  private readonly api: OpenApi | undefined;
  private readonly table = new RouteTable();
  private readonly handlers = new Map<string, Handler>();

  // The state below is read and changed by the route files (github/routes-*.ts);
  // tests use the methods of this class instead.
  readonly urls: Urls;
  readonly createdAt = new Date(Date.now() - 86_400_000);
  readonly installationsById = new Map<number, FakeInstallation>();
  readonly accounts = new Map<string, Account>();
  readonly reposByName = new Map<string, FakeRepository>();
  readonly runnerGroups = new Map<string, FakeRunnerGroup[]>();
  readonly files = new Map<string, Map<string, string>>();
  /** Releases by lower-case owner/name (the App reads actions/runner's). */
  readonly releases = new Map<string, FakeRelease[]>();
  readonly runnersById = new Map<number, FakeRunner>();
  readonly jitSecrets = new Map<number, string>();
  readonly jobsById = new Map<number, FakeJob>();
  readonly runsById = new Map<number, WorkflowRun>();
  readonly tokens = new Map<string, InstallationToken>();
  readonly labelIds = new Map<string, number>();
  private readonly rate = new Map<string, { used: number; reset: number }>();
  private readonly pending = new Set<Promise<unknown>>();
  private faults: Fault[] = [];
  private interceptors: Array<{ match: FaultMatch; action: () => void }> = [];
  private hangs: Array<{ match: FaultMatch; remaining: number }> = [];
  private closed = false;

  private nextAccountId = 100_001;
  private nextInstallationId = 50_000_001;
  private nextRepoId = 800_000_001;
  // job and run ids above 2^31, like GitHub's today
  private nextJobId = 30_000_000_001;
  private nextRunId = 10_000_000_001;
  private nextRunNumber = 1;
  nextRunnerId = 1;
  readonly sender: Account = { login: "octocat-fake", id: 583_231, type: "User" };
  readonly appOwner: Account = { login: "fake-app-owner", id: 583_232, type: "Organization" };

  private constructor(server: http.Server, key: AppKey, api: OpenApi | undefined, options: StartOptions) {
    const port = (server.address() as AddressInfo).port;
    this.server = server;
    this.host = `127.0.0.1:${port}`;
    this.baseUrl = `http://${this.host}/api/v3`;
    this.urls = { api: this.baseUrl, web: `http://${this.host}` };
    this.appId = options.appId ?? 4242;
    this.privateKey = key.privateKey;
    this.publicKey = key.publicKey;
    this.webhookSecret = options.webhookSecret ?? "test-webhook-secret";
    this.webhookUrl = options.webhookUrl;
    this.latencyMs = options.latencyMs ?? 0;
    this.now = options.now ?? Date.now;
    this.api = api;
    this.hookDeliveries = new DeliveryLog(this.baseUrl);
    const route = (method: string, template: string, handler: Handler) => this.route(method, template, handler);
    registerAppRoutes(this, route);
    registerInstallationRoutes(this, route);
    registerRepositoryRoutes(this, route);
    registerReleaseRoutes(this, route);
    registerActionsRoutes(this, route);
    registerRunnerRoutes(this, route);
    registerAppManifestConversions(this, (method, template, handler) => this.route(method, template, handler));
    registerAppHookConfig(this, (method, template, handler) => this.route(method, template, handler));
  }

  static async start(options: StartOptions = {}): Promise<FakeGitHub> {
    const key = await appKey();
    // A dynamic import: the product (the demo) never loads the description nor ajv.
    const api = options.checkOpenApi === false ? undefined : (await import("./github/openapi.js")).openApi();
    const server = http.createServer();
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const fake = new FakeGitHub(server, key, api, options);
    server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
      fake.handle(req, res).catch((e: unknown) => {
        fake.violations.push(`fake-github internal error on ${req.method} ${req.url}: ${String((e as Error)?.stack ?? e)}`);
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json; charset=utf-8" });
        res.end(JSON.stringify({ message: "Server Error" }));
      });
    });
    return fake;
  }

  /** Environment for the App under test (Probot's variables plus the GHE ones). */
  appEnv(): Record<string, string> {
    return {
      APP_ID: String(this.appId),
      PRIVATE_KEY: this.privateKey,
      WEBHOOK_SECRET: this.webhookSecret,
      GHE_HOST: this.host,
      GHE_PROTOCOL: "http",
    };
  }

  /** Waits for in-flight webhook deliveries, then stops the server. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.settle();
    this.closed = true;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  // -------------------------------------------------------------------------------
  // Setup

  addInstallation(o: {
    id?: number;
    account: string;
    accountType?: "Organization" | "User";
    permissions?: Record<string, "read" | "write">;
    repositorySelection?: "all" | "selected";
  }): FakeInstallation {
    const id = o.id ?? this.nextInstallationId++;
    if (this.installationsById.has(id)) throw new Error(`installation ${id} already exists`);
    const account = this.accountFor(o.account, o.accountType ?? "Organization");
    for (const other of this.installationsById.values()) {
      if (lc(other.account.login) === lc(account.login)) throw new Error(`${account.login} already has installation ${other.id}`);
    }
    const inst: FakeInstallation = {
      id,
      account: { login: account.login, id: account.id, type: account.type },
      permissions: { ...(o.permissions ?? DEFAULT_PERMISSIONS) },
      repositorySelection: o.repositorySelection ?? "all",
    };
    this.installationsById.set(id, inst);
    if (account.type === "Organization") this.groupsOf(account.login);
    return inst;
  }

  addRepository(o: {
    installationId: number;
    owner: string;
    name: string;
    private?: boolean;
    visibility?: "public" | "private" | "internal";
    /** false: the repository exists, but the installation (on "selected" repositories) may not see it. */
    selected?: boolean;
  }): FakeRepository {
    const inst = this.installationsById.get(o.installationId);
    if (!inst) throw new Error(`no installation ${o.installationId}`);
    if (lc(inst.account.login) !== lc(o.owner)) {
      throw new Error(`installation ${inst.id} is on ${inst.account.login}; it cannot hold a repository of ${o.owner}`);
    }
    const fullName = `${inst.account.login}/${o.name}`;
    if (this.reposByName.has(lc(fullName))) throw new Error(`repository ${fullName} already exists`);
    const visibility = o.visibility ?? (o.private === false ? "public" : "private");
    const repo: FakeRepository = {
      id: this.nextRepoId++,
      owner: inst.account.login,
      name: o.name,
      fullName,
      private: o.private ?? visibility !== "public",
      visibility,
      installationId: inst.id,
      selected: o.selected ?? true,
    };
    if (!repo.selected && inst.repositorySelection !== "selected")
      throw new Error(`installation ${inst.id} sees all repositories; make it "selected" to leave ${fullName} out`);
    this.reposByName.set(lc(fullName), repo);
    return repo;
  }

  /**
   * Adds a runner group to an organization (every organization has { id: 1, name: "Default" }).
   * A "selected" group serves only `selectedRepositories` (repository names or full names).
   */
  addRunnerGroup(
    org: string,
    group: {
      id: number;
      name: string;
      visibility?: "all" | "selected";
      selectedRepositories?: string[];
      allowsPublicRepositories?: boolean;
    },
  ): void {
    const groups = this.groupsOf(org);
    if (groups.some((g) => g.id === group.id)) throw new Error(`runner group ${group.id} already exists in ${org}`);
    groups.push({
      id: group.id,
      name: group.name,
      visibility: group.visibility ?? "all",
      default: false,
      selectedRepositories: new Set((group.selectedRepositories ?? []).map((r) => lc(r.includes("/") ? r : `${org}/${r}`))),
      allowsPublicRepositories: group.allowsPublicRepositories ?? true,
    });
  }

  /**
   * Publishes a release (for actions/runner, as GitHub does: a linux-x64 tarball with
   * its SHA-256 as the asset's digest and in the release notes).
   */
  addRelease(o: { owner: string; repo: string; tagName: string; publishedAt?: Date; sha256?: string }): FakeRelease {
    const key = lc(`${o.owner}/${o.repo}`);
    const list = this.releases.get(key) ?? [];
    const version = o.tagName.replace(/^v/, "");
    const sha256 = o.sha256 ?? crypto.createHash("sha256").update(o.tagName).digest("hex");
    const tarball = `actions-runner-linux-x64-${version}.tar.gz`;
    const release: FakeRelease = {
      id: 180_000_000 + this.releases.size * 1000 + list.length,
      owner: o.owner,
      repo: o.repo,
      tagName: o.tagName,
      publishedAt: o.publishedAt ?? new Date(this.now()),
      body: `## What's Changed\n\n- Fixes\n\n## Linux x64\n<!-- BEGIN SHA linux-x64 -->${sha256}<!-- END SHA linux-x64 -->\n`,
      assets: [{ name: tarball, digest: `sha256:${sha256}`, size: 220_000_000 }],
    };
    list.push(release);
    this.releases.set(key, list);
    return release;
  }

  addFile(owner: string, repo: string, path: string, content: string): void {
    const key = lc(`${owner}/${repo}`);
    let files = this.files.get(key);
    if (!files) this.files.set(key, (files = new Map()));
    files.set(path.replace(/^\/+/, ""), content);
  }

  /** Creates a job (and its workflow run when `runId` is new or absent). Delivers no webhook. */
  queueJob(o: {
    owner: string;
    repo: string;
    labels: string[];
    name?: string;
    runId?: number;
    runAttempt?: number;
    createdAt?: Date;
    status?: "queued" | "waiting";
    workflowName?: string;
    headBranch?: string;
  }): FakeJob {
    const repo = this.reposByName.get(lc(`${o.owner}/${o.repo}`));
    if (!repo) throw new Error(`no repository ${o.owner}/${o.repo}`);
    const createdAt = o.createdAt ?? new Date(this.now());
    let run = o.runId === undefined ? undefined : this.runsById.get(o.runId);
    if (run && (run.owner !== repo.owner || run.repo !== repo.name)) throw new Error(`run ${o.runId} belongs to ${run.owner}/${run.repo}`);
    if (!run) {
      const workflowName = o.workflowName ?? "CI";
      run = {
        id: o.runId ?? this.nextRunId++,
        owner: repo.owner,
        repo: repo.name,
        runNumber: this.nextRunNumber++,
        runAttempt: o.runAttempt ?? 1,
        workflowId: 161_335,
        workflowName,
        path: `.github/workflows/${lc(workflowName).replace(/[^a-z0-9]+/g, "-")}.yml`,
        event: "push",
        headBranch: o.headBranch ?? "main",
        headSha: randomHex(20),
        createdAt,
      };
      this.runsById.set(run.id, run);
    } else if (o.runAttempt !== undefined && o.runAttempt > run.runAttempt) {
      run.runAttempt = o.runAttempt;
    }
    const job: FakeJob = {
      id: this.nextJobId++,
      runId: run.id,
      runAttempt: o.runAttempt ?? run.runAttempt,
      owner: repo.owner,
      repo: repo.name,
      name: o.name ?? "build",
      workflowName: run.workflowName,
      headBranch: run.headBranch,
      headSha: run.headSha,
      labels: [...o.labels],
      status: o.status ?? "queued",
      conclusion: null,
      createdAt,
      startedAt: null,
      completedAt: null,
      runnerId: null,
      runnerName: null,
      runnerGroupId: null,
      runnerGroupName: null,
    };
    this.jobsById.set(job.id, job);
    return job;
  }

  /** Injects a fault: the next `times` requests matching get `response` instead of the real answer. */
  /** Every installation token minted so far (the secret-leak test searches the logs for them). */
  issuedTokens(): string[] {
    return [...this.tokens.keys()];
  }

  /**
   * Runs `action` just before the next request matching `match` is handled: a way to
   * make the world change between a client's read and its write (races).
   */
  beforeNext(match: FaultMatch, action: () => void): void {
    this.interceptors.push({ match, action });
  }

  /**
   * Requests that arrive from now on are answered only once `until` settles: a slow
   * GitHub for as long as a race needs (e.g. until a sandbox create has ended), without
   * a fixed latency on every request.
   */
  holdRequests(until: Promise<unknown>): void {
    const held = until.then(
      () => undefined,
      () => undefined,
    );
    this.#held = held;
    void held.then(() => {
      if (this.#held === held) this.#held = undefined;
    });
  }

  #held: Promise<void> | undefined;

  /** The next `times` requests matching `match` are never answered (a process cut off mid-request). */
  hangNext(match: FaultMatch, times = 1): void {
    this.hangs.push({ match, remaining: times });
  }

  failNext(match: FaultMatch, response: FaultResponse, times = 1): void {
    this.faults.push({ match, response, remaining: times });
  }

  // -------------------------------------------------------------------------------
  // Webhooks

  /** Builds the workflow_job payload GitHub would send for `job` with `action`. */
  workflowJobPayload(action: WorkflowJobAction, job: FakeJob, installationId?: number | null): Record<string, unknown> {
    const repo = this.repoOf(job.owner, job.repo);
    const owner = this.accountOf(repo.owner);
    const example = exampleFor("workflow_job", action);
    const jobJson = jobObject(this.urls, job);
    jobJson.status = action;
    if (action === "completed") {
      jobJson.conclusion = job.conclusion ?? "success";
      jobJson.completed_at = iso(job.completedAt ?? new Date(this.now()));
    } else {
      jobJson.conclusion = null;
      jobJson.completed_at = null;
    }
    if (action === "queued" || action === "waiting") {
      jobJson.runner_id = null;
      jobJson.runner_name = null;
      jobJson.runner_group_id = null;
      jobJson.runner_group_name = null;
    }
    const payload: Record<string, unknown> = {
      action,
      workflow_job: { ...(example.workflow_job as Record<string, unknown>), ...jobJson },
      repository: { ...(example.repository as Record<string, unknown>), ...repositoryObject(this.urls, repo, owner, this.createdAt) },
    };
    if (owner.type === "Organization") {
      payload.organization = { ...(example.organization as Record<string, unknown> | undefined), ...organizationObject(this.urls, owner) };
    }
    payload.sender = userObject(this.urls, this.sender);
    if (installationId !== null) {
      const id = installationId ?? repo.installationId;
      payload.installation = { id, node_id: Buffer.from(`023:IntegrationInstallation${id}`).toString("base64") };
    }
    return payload;
  }

  /** Delivers a signed workflow_job webhook for `job` and waits for the App's answer. */
  deliverWorkflowJob(
    action: WorkflowJobAction,
    job: FakeJob,
    opts: { signature?: SignatureMode; omitInstallation?: boolean; installationId?: number; deliveryId?: string } = {},
  ): Promise<DeliveryResult> {
    const payload = this.workflowJobPayload(action, job, opts.omitInstallation ? null : opts.installationId);
    for (const p of this.api?.checkWebhook("workflow_job", action, payload) ?? []) {
      this.violations.push(`webhook workflow_job.${action}: ${p}`);
    }
    const delivery: { signature?: SignatureMode; deliveryId?: string } = {};
    if (opts.signature) delivery.signature = opts.signature;
    if (opts.deliveryId) delivery.deliveryId = opts.deliveryId;
    return this.deliver("workflow_job", action, JSON.stringify(payload), delivery);
  }

  /** Delivers an arbitrary body (e.g. malformed JSON) as event `event`. */
  deliverRaw(event: string, body: string, opts: { signature?: SignatureMode; deliveryId?: string } = {}): Promise<DeliveryResult> {
    let action: string | undefined;
    try {
      const parsed = JSON.parse(body) as { action?: unknown };
      if (typeof parsed?.action === "string") action = parsed.action;
    } catch {
      // malformed on purpose
    }
    return this.deliver(event, action, body, opts);
  }

  /** Resolves when every webhook delivery started so far has been answered (or failed). */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  deliver(
    event: string,
    action: string | undefined,
    body: string,
    opts: { signature?: SignatureMode; deliveryId?: string; redelivery?: boolean },
  ): Promise<DeliveryResult> {
    const deliveryId = opts.deliveryId ?? crypto.randomUUID();
    const signature = opts.signature ?? "valid";
    const record: DeliveryRecord = { event, action, deliveryId, signature, payload: body, status: 0, body: "", ms: 0, at: this.now() };
    this.deliveries.push(record);
    const url = this.webhookUrl;
    const p = (async (): Promise<DeliveryResult> => {
      if (!url || this.closed) {
        record.error = url ? "fake GitHub is closed" : "no webhookUrl set";
        return { status: 0, body: "", ms: 0, deliveryId };
      }
      const logged = {
        guid: deliveryId,
        event,
        action,
        body,
        redelivery: opts.redelivery ?? false,
        startedAt: this.now(),
        requestHeaders: { "X-GitHub-Delivery": deliveryId, "X-GitHub-Event": event },
      };
      if (this.hookDeliveries.ingressDown) {
        record.error = "failed to connect to host";
        this.hookDeliveries.record({ ...logged, durationMs: 0, statusCode: 0, error: record.error, responseBody: "" });
        return { status: 0, body: "", ms: 0, deliveryId };
      }
      const r = await send({
        url,
        event,
        body,
        secret: this.webhookSecret,
        signature,
        deliveryId,
        hookId: HOOK_ID,
        appId: this.appId,
        timeoutMs: WEBHOOK_TIMEOUT_MS,
      });
      record.status = r.status;
      record.body = r.body;
      record.ms = r.ms;
      if (r.error) record.error = r.error;
      this.hookDeliveries.record({ ...logged, durationMs: r.ms, statusCode: r.status, error: r.error, responseBody: r.body });
      return { status: r.status, body: r.body, ms: r.ms, deliveryId };
    })();
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p)).catch(() => undefined);
    return p;
  }

  /** Deliveries the fake makes by itself: fire-and-forget, awaited by settle(). */
  private autoDeliver(action: WorkflowJobAction, job: FakeJob): void {
    void this.deliverWorkflowJob(action, job).catch((e: unknown) => {
      this.violations.push(`fake-github could not build the ${action} webhook for job ${job.id}: ${String(e)}`);
    });
  }

  // -------------------------------------------------------------------------------
  // Installations come and go

  /**
   * The owner uninstalls the App: the installation leaves the App's list, its tokens
   * stop working, and (unless `notify` is false) an installation.deleted webhook is sent.
   * Its repositories go with it; runners already registered stay (GitHub does not
   * remove them) and finish what they run.
   */
  uninstall(installationId: number, options: { notify?: boolean } = {}): Promise<DeliveryResult> | undefined {
    const inst = this.installationsById.get(installationId);
    if (!inst) throw new Error(`no installation ${installationId}`);
    const payload = this.installationPayload("installation", "deleted", inst);
    this.installationsById.delete(installationId);
    for (const [key, repo] of this.reposByName) if (repo.installationId === installationId) this.reposByName.delete(key);
    return options.notify === false ? undefined : this.deliverInstallationEvent("installation", "deleted", payload);
  }

  /** The owner suspends (or unsuspends) the installation: still listed, with `suspended_at`; its tokens are refused. */
  suspend(installationId: number, suspended = true, options: { notify?: boolean } = {}): Promise<DeliveryResult> | undefined {
    const inst = this.installationsById.get(installationId);
    if (!inst) throw new Error(`no installation ${installationId}`);
    if (suspended) inst.suspendedAt = new Date(this.now());
    else delete inst.suspendedAt;
    const action = suspended ? "suspend" : "unsuspend";
    return options.notify === false
      ? undefined
      : this.deliverInstallationEvent("installation", action, this.installationPayload("installation", action, inst));
  }

  /** The owner takes a repository away from the installation (installation_repositories.removed). */
  removeRepositoryFromInstallation(fullName: string, options: { notify?: boolean } = {}): Promise<DeliveryResult> | undefined {
    const repo = this.reposByName.get(lc(fullName));
    if (!repo) throw new Error(`no repository ${fullName}`);
    const inst = this.installationsById.get(repo.installationId)!;
    this.reposByName.delete(lc(fullName));
    const payload = this.installationPayload("installation_repositories", "removed", inst);
    payload.repositories_added = [];
    payload.repositories_removed = [
      { id: repo.id, node_id: `R_${repo.id}`, name: repo.name, full_name: repo.fullName, private: repo.private },
    ];
    payload.repository_selection = "selected";
    return options.notify === false ? undefined : this.deliverInstallationEvent("installation_repositories", "removed", payload);
  }

  private installationPayload(event: string, action: string, inst: FakeInstallation): Record<string, unknown> {
    const example = exampleFor(event, action);
    const installation = {
      ...(example.installation as Record<string, unknown>),
      ...installationObject(this.urls, inst, this.appId, this.appSlug, this.createdAt),
    };
    return { ...example, action, installation, sender: userObject(this.urls, this.sender) };
  }

  private deliverInstallationEvent(event: string, action: string, payload: Record<string, unknown>): Promise<DeliveryResult> {
    for (const p of this.api?.checkWebhook(event, action, payload) ?? []) this.violations.push(`webhook ${event}.${action}: ${p}`);
    return this.deliver(event, action, JSON.stringify(payload), {});
  }

  // -------------------------------------------------------------------------------
  // The runner side of GitHub

  /** A runner process starts with a JIT config: the registration must exist; it goes online. */
  connectRunner(encodedJitConfig: string): FakeRunner | undefined {
    const decoded = decodeJitConfig(encodedJitConfig);
    if (!decoded) return undefined;
    const runner = this.runnersById.get(decoded.runnerId);
    if (!runner || this.jitSecrets.get(runner.id) !== decoded.secret) return undefined;
    if (runner.status === "online") return undefined; // a JIT config starts one session only
    runner.status = "online";
    return runner;
  }

  /** The oldest queued job this runner can take; marks it in_progress and delivers "in_progress". */
  acquireJob(runnerId: number): FakeJob | undefined {
    const runner = this.runnersById.get(runnerId);
    if (!runner || runner.status !== "online" || runner.busy) return undefined;
    const candidates = [...this.jobsById.values()]
      .filter((j) => j.status === "queued" && this.runnerFits(runner, j))
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.id - b.id);
    const job = candidates[0];
    if (!job) return undefined;
    job.status = "in_progress";
    job.startedAt = new Date(this.now());
    job.runnerId = runner.id;
    job.runnerName = runner.name;
    job.runnerGroupId = runner.runnerGroupId;
    job.runnerGroupName = this.groupName(runner);
    runner.busy = true;
    this.autoDeliver("in_progress", job);
    return job;
  }

  /** The job finishes; its (ephemeral) runner deregisters; delivers "completed". */
  completeJob(jobId: number, conclusion: "success" | "failure" | "cancelled" = "success"): void {
    const job = this.jobsById.get(jobId);
    if (!job) throw new Error(`no job ${jobId}`);
    if (job.status === "completed") return;
    job.status = "completed";
    job.conclusion = conclusion;
    job.completedAt = new Date(this.now());
    if (job.runnerId !== null) {
      const runner = this.runnersById.get(job.runnerId);
      if (runner) {
        if (runner.ephemeral) this.deleteRunner(runner.id);
        else runner.busy = false;
      }
    }
    this.autoDeliver("completed", job);
  }

  /** Cancels a job that is not done; its runner (if any) stays busy until releaseRunner. Delivers "completed". */
  cancelJob(jobId: number): void {
    const job = this.jobsById.get(jobId);
    if (!job) throw new Error(`no job ${jobId}`);
    if (job.status === "completed") return;
    job.status = "completed";
    job.conclusion = "cancelled";
    job.completedAt = new Date(this.now());
    this.autoDeliver("completed", job);
  }

  /** A runner whose job ended exits: an ephemeral registration is deleted. */
  releaseRunner(runnerId: number): void {
    const runner = this.runnersById.get(runnerId);
    if (!runner) return;
    if (runner.ephemeral) this.deleteRunner(runnerId);
    else runner.busy = false;
  }

  /** The runner's machine died: offline, busy unchanged (GitHub keeps it until it times out). */
  disconnectRunner(runnerId: number): void {
    const runner = this.runnersById.get(runnerId);
    if (runner) runner.status = "offline";
  }

  removeRunner(runnerId: number): void {
    this.deleteRunner(runnerId);
  }

  // -------------------------------------------------------------------------------
  // Inspection (live objects: they change as the fake's state changes)

  runners(): FakeRunner[] {
    return [...this.runnersById.values()];
  }

  jobs(): FakeJob[] {
    return [...this.jobsById.values()];
  }

  installations(): FakeInstallation[] {
    return [...this.installationsById.values()];
  }

  repositories(): FakeRepository[] {
    return [...this.reposByName.values()];
  }

  job(id: number): FakeJob | undefined {
    return this.jobsById.get(id);
  }

  runner(id: number): FakeRunner | undefined {
    return this.runnersById.get(id);
  }

  assertNoViolations(): void {
    if (this.violations.length === 0) return;
    throw new Error(`FakeGitHub recorded ${this.violations.length} violation(s):\n - ${this.violations.join("\n - ")}`);
  }

  // -------------------------------------------------------------------------------
  // Internals: state helpers

  private accountFor(login: string, type: "Organization" | "User"): Account {
    let account = this.accounts.get(lc(login));
    if (!account) {
      account = { login, id: this.nextAccountId++, type };
      this.accounts.set(lc(login), account);
    }
    return account;
  }

  groupsOf(org: string): FakeRunnerGroup[] {
    let groups = this.runnerGroups.get(lc(org));
    if (!groups) {
      groups = [
        { id: 1, name: "Default", visibility: "all", default: true, selectedRepositories: new Set(), allowsPublicRepositories: true },
      ];
      this.runnerGroups.set(lc(org), groups);
    }
    return groups;
  }

  repoOf(owner: string, name: string): FakeRepository {
    const repo = this.reposByName.get(lc(`${owner}/${name}`));
    if (!repo) throw new Error(`no repository ${owner}/${name}`);
    return repo;
  }

  private groupName(runner: FakeRunner): string {
    if (runner.scope.kind === "repo") return "Default";
    return this.groupsOf(runner.scope.org).find((g) => g.id === runner.runnerGroupId)?.name ?? "Default";
  }

  private runnerFits(runner: FakeRunner, job: FakeJob): boolean {
    const have = new Set(runner.labels.map(lc));
    have.add("self-hosted");
    if (!job.labels.every((l) => have.has(lc(l)))) return false;
    if (runner.scope.kind === "repo") {
      return lc(runner.scope.owner) === lc(job.owner) && lc(runner.scope.repo) === lc(job.repo);
    }
    if (lc(runner.scope.org) !== lc(job.owner)) return false;
    const group = this.groupsOf(runner.scope.org).find((g) => g.id === runner.runnerGroupId);
    if (!group) return false;
    const repo = this.reposByName.get(lc(`${job.owner}/${job.repo}`));
    if (repo && repo.visibility === "public" && !group.allowsPublicRepositories) return false;
    return group.default || group.visibility === "all" || group.selectedRepositories.has(lc(`${job.owner}/${job.repo}`));
  }

  deleteRunner(id: number): void {
    this.runnersById.delete(id);
    this.jitSecrets.delete(id);
  }

  labelId(name: string): number {
    let id = this.labelIds.get(lc(name));
    if (id === undefined) {
      id = this.labelIds.size + 1;
      this.labelIds.set(lc(name), id);
    }
    return id;
  }

  accountOf(login: string): Account {
    return this.accounts.get(lc(login)) ?? { login, id: 0, type: "User" };
  }

  // -------------------------------------------------------------------------------
  // Internals: HTTP

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const at = this.now();
    const method = (req.method ?? "GET").toUpperCase();
    const url = new URL(req.url ?? "/", "http://fake.invalid");
    let rawPath = url.pathname;
    if (rawPath === "/api/v3" || rawPath.startsWith("/api/v3/")) rawPath = rawPath.slice("/api/v3".length) || "/";
    if (rawPath.length > 1 && rawPath.endsWith("/")) rawPath = rawPath.slice(0, -1);
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;

    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const bodyText = Buffer.concat(chunks).toString("utf8");
    const hasBody = bodyText.trim().length > 0;
    let body: unknown;
    let bodyError = false;
    if (hasBody) {
      try {
        body = JSON.parse(bodyText);
      } catch {
        body = bodyText;
        bodyError = true;
      }
    }

    let decodedPath = rawPath;
    try {
      decodedPath = decodeURIComponent(rawPath);
    } catch {
      // keep it raw
    }
    // With the description loaded, its templates decide (a path GitHub documents but the
    // fake does not serve is reported as such); without it, the fake's own routes.
    const match: RouteMatch | undefined = this.api ? this.api.match(method, rawPath) : this.tableMatch(method, rawPath);
    const record: RecordedRequest = { method, path: decodedPath, route: match?.template ?? "", query, body, status: 0, at };
    this.requests.push(record);

    const auth = this.authenticate(req.headers.authorization);
    if (auth.kind === "installation" && auth.token) record.installationId = auth.token.installationId;
    if (match?.template.startsWith("/app/installations/{installation_id}")) {
      const id = Number(match.params.installation_id);
      if (Number.isFinite(id)) record.installationId = id;
    }

    const limited = this.secondaryLimits.admit(
      auth.kind === "app" ? "app" : `installation:${record.installationId}`,
      method,
      match?.template ?? decodedPath,
      res,
    );
    if (this.latencyMs > 0) await sleep(this.latencyMs);
    if (this.#held) await this.#held;

    const reply = (r: Reply, validate: boolean): void => this.respond(req, res, record, match, r, validate);
    if (limited) return reply(limited, false);

    // fault injection comes first: it stands for GitHub failing before doing anything
    const fault = this.takeFault(method, match?.template ?? "", decodedPath);
    if (fault) {
      const body = fault.body === undefined ? errorBody(fault.status, defaultMessage(fault.status)) : fault.body;
      const r: Reply = { status: fault.status, body };
      if (fault.headers) r.headers = fault.headers;
      reply(r, false);
      return;
    }

    if (bodyError) {
      this.violations.push(`${method} ${match?.template ?? decodedPath}: body is not valid JSON`);
      reply({ status: 400, body: errorBody(400, "Problems parsing JSON") }, false);
      return;
    }

    const handler = match && (!this.api || match.operation) ? this.handlers.get(`${method} ${match.template}`) : undefined;
    if (!match || !handler) {
      this.violations.push(`${method} ${match?.template ?? decodedPath}: not implemented by the fake`);
      reply({ status: 404, body: errorBody(404, "Not Found") }, false);
      return;
    }

    const problems = this.api?.checkRequest(method, match, query, body, hasBody) ?? [];
    for (const p of problems) this.violations.push(`${method} ${match.template}: ${p}`);

    try {
      const ctx = this.authorize(handler, auth, match, method, rawPath, query, body, req.headers);
      if (problems.length > 0) {
        reply({ status: 422, body: { message: "Invalid request", errors: problems, documentation_url: DOCS, status: "422" } }, false);
        return;
      }
      const hang = this.hangs.find((h) => h.remaining > 0 && this.matches(h.match, method, match.template, rawPath));
      if (hang) {
        hang.remaining--;
        return; // never answered: the caller waits until it gives up or the fake closes
      }
      const interceptor = this.interceptors.find((i) => this.matches(i.match, method, match.template, rawPath));
      if (interceptor) {
        this.interceptors.splice(this.interceptors.indexOf(interceptor), 1);
        interceptor.action();
      }
      reply(handler.fn(ctx), true);
    } catch (e) {
      if (e instanceof HttpError) {
        reply({ status: e.status, body: errorBody(e.status, e.message, e.extra), headers: e.headers }, true);
        return;
      }
      throw e;
    }
  }

  private matches(match: FaultMatch, method: string, template: string, path: string): boolean {
    if (match.method && match.method.toUpperCase() !== method) return false;
    const r = match.route;
    if (r === undefined) return true;
    return typeof r === "string" ? r === template || r === path : r.test(template) || r.test(path);
  }

  private takeFault(method: string, template: string, path: string): FaultResponse | undefined {
    for (const f of this.faults) {
      if (f.remaining <= 0) continue;
      if (!this.matches(f.match, method, template, path)) continue;
      f.remaining--;
      this.faults = this.faults.filter((x) => x.remaining > 0);
      return f.response;
    }
    return undefined;
  }

  private authenticate(header: string | undefined): Auth {
    if (!header) return { kind: "none", reason: "Requires authentication" };
    const m = /^(bearer|token)\s+(\S+)$/i.exec(header.trim());
    if (!m) return { kind: "none", reason: "Bad credentials" };
    const value = m[2] as string;
    if (value.split(".").length === 3) {
      const error = this.verifyJwt(value);
      return error ? { kind: "app", error } : { kind: "app" };
    }
    const token = this.tokens.get(value);
    if (!token) return { kind: "installation", error: "Bad credentials" };
    if (token.expiresAt.getTime() <= Date.now()) return { kind: "installation", error: "Bad credentials" };
    if (!this.installationsById.has(token.installationId)) return { kind: "installation", error: "Bad credentials" };
    return { kind: "installation", token };
  }

  /** Verifies an App JWT (RS256, iss = appId, sane iat/exp); returns GitHub's error message or undefined. */
  private verifyJwt(jwt: string): string | undefined {
    const undecodable = "A JSON web token could not be decoded";
    const [h, p, s] = jwt.split(".") as [string, string, string];
    let header: { alg?: unknown };
    let payload: { iat?: unknown; exp?: unknown; iss?: unknown };
    try {
      header = JSON.parse(Buffer.from(h, "base64url").toString("utf8")) as typeof header;
      payload = JSON.parse(Buffer.from(p, "base64url").toString("utf8")) as typeof payload;
    } catch {
      return undecodable;
    }
    if (header.alg !== "RS256") return undecodable;
    const ok = crypto.verify("RSA-SHA256", Buffer.from(`${h}.${p}`), this.publicKey, Buffer.from(s, "base64url"));
    if (!ok) return undecodable;
    const now = Math.floor(Date.now() / 1000);
    if (typeof payload.iat !== "number" || !Number.isInteger(payload.iat) || payload.iat > now + 60) {
      return "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued";
    }
    if (typeof payload.exp !== "number" || payload.exp <= now) {
      return "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires";
    }
    if (payload.exp > now + 600 + 5) return "'Expiration time' claim ('exp') is too far in the future";
    if (String(payload.iss) !== String(this.appId)) return "Integration not found";
    return undefined;
  }

  private authorize(
    handler: Handler,
    auth: Auth,
    match: RouteMatch,
    method: string,
    rawPath: string,
    query: Record<string, string>,
    body: unknown,
    headers: http.IncomingHttpHeaders,
  ): Ctx {
    const ctx: Ctx = { method, rawPath, params: match.params, query, body, headers, installation: undefined, token: undefined };
    if (handler.auth === "none") return ctx;
    if (handler.auth === "app") {
      if (auth.kind !== "app") {
        throw new HttpError(401, auth.kind === "none" ? auth.reason : "A JSON web token could not be decoded");
      }
      if (auth.error) throw new HttpError(401, auth.error);
      return ctx;
    }
    if (auth.kind === "none") throw new HttpError(401, auth.reason);
    if (auth.kind === "app" || !auth.token) throw new HttpError(401, "Bad credentials");
    const token = auth.token;
    const installation = this.installationsById.get(token.installationId);
    if (!installation) throw new HttpError(401, "Bad credentials");
    if (installation.suspendedAt) throw new HttpError(403, "This installation has been suspended");
    ctx.installation = installation;
    ctx.token = token;
    const { owner, repo, org } = match.params;
    if (owner !== undefined && repo !== undefined) {
      const r = this.reposByName.get(lc(`${owner}/${repo}`));
      if (!r || r.installationId !== installation.id || !r.selected || (token.repositoryIds && !token.repositoryIds.has(r.id))) {
        throw new HttpError(404, "Not Found");
      }
    }
    if (org !== undefined) {
      if (installation.account.type !== "Organization" || lc(installation.account.login) !== lc(org)) throw new HttpError(404, "Not Found");
    }
    if (handler.permission && !handler.permission(token.permissions)) {
      throw new HttpError(403, "Resource not accessible by integration");
    }
    return ctx;
  }

  /** Counts a request against its rate-limit bucket (304s are free, like GitHub's) and returns the headers. */
  private rateLimitHeaders(record: RecordedRequest, isApp: boolean, counts: boolean): Record<string, string> {
    const key = isApp ? "app" : record.installationId !== undefined ? `installation:${record.installationId}` : "anonymous";
    const limit = isApp ? 5_000 : record.installationId !== undefined ? 15_000 : 60;
    const now = Math.floor(Date.now() / 1000);
    let b = this.rate.get(key);
    if (!b || b.reset <= now) {
      b = { used: 0, reset: now + 3600 };
      this.rate.set(key, b);
    }
    if (counts) b.used++;
    const used = Math.min(limit, b.used);
    return {
      "x-ratelimit-limit": String(limit),
      "x-ratelimit-remaining": String(limit - used),
      "x-ratelimit-reset": String(b.reset),
      "x-ratelimit-used": String(used),
      "x-ratelimit-resource": "core",
    };
  }

  private respond(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    record: RecordedRequest,
    match: RouteMatch | undefined,
    reply: Reply,
    validate: boolean,
  ): void {
    let status = reply.status;
    const isText = reply.text !== undefined;
    let text = isText ? (reply.text as string) : reply.body === undefined ? "" : JSON.stringify(reply.body);
    const headers: Record<string, string> = {
      "content-type": reply.contentType ?? "application/json; charset=utf-8",
      "x-github-media-type": "github.v3; format=json",
      "x-github-api-version-selected": "2022-11-28",
      "x-github-request-id": randomHex(8).toUpperCase(),
    };

    if (validate && match && !isText && status !== 304) {
      for (const p of this.api?.checkResponse(record.method, match, status, reply.body) ?? []) {
        this.violations.push(`${record.method} ${match.template}: ${p}`);
      }
    }

    if (record.method === "GET" && status === 200) {
      const etag = `W/"${crypto.createHash("sha256").update(text).digest("hex").slice(0, 40)}"`;
      headers.etag = etag;
      const inm = req.headers["if-none-match"];
      if (inm && inm.split(",").some((t) => t.trim().replace(/^W\//, "") === etag.replace(/^W\//, ""))) {
        status = 304;
        text = "";
      }
    }

    const isApp = /^bearer\s+\S+\.\S+\.\S+$/i.test((req.headers.authorization ?? "").trim());
    Object.assign(headers, this.rateLimitHeaders(record, isApp, status !== 304));
    Object.assign(headers, reply.headers ?? {});

    record.status = status;
    if (status === 204 || status === 304) {
      delete headers["content-type"];
      res.writeHead(status, headers);
      res.end();
      return;
    }
    headers["content-length"] = String(Buffer.byteLength(text));
    res.writeHead(status, headers);
    res.end(text);
  }

  paginate<T>(ctx: Ctx, items: T[]): { page: T[]; headers: Record<string, string> } {
    const perPage = Math.min(100, Math.max(1, intParam(ctx.query.per_page, 30)));
    const page = Math.max(1, intParam(ctx.query.page, 1));
    const last = Math.max(1, Math.ceil(items.length / perPage));
    const slice = items.slice((page - 1) * perPage, page * perPage);
    const link = (p: number, rel: string): string => {
      const q = new URLSearchParams({ ...ctx.query, per_page: String(perPage), page: String(p) });
      return `<${this.baseUrl}${ctx.rawPath}?${q.toString()}>; rel="${rel}"`;
    };
    const links: string[] = [];
    if (page > 1) links.push(link(page - 1, "prev"));
    if (page < last) links.push(link(page + 1, "next"), link(last, "last"));
    if (page > 1) links.push(link(1, "first"));
    return { page: slice, headers: links.length ? { link: links.join(", ") } : {} };
  }

  // -------------------------------------------------------------------------------
  // Routes (registered by github/routes-*.ts)

  private route(method: string, template: string, handler: Handler): void {
    if (this.api && !this.api.templates.includes(template))
      throw new Error(`fake-github: ${template} is not in GitHub's OpenAPI description`);
    this.table.add(method, template);
    this.handlers.set(`${method} ${template}`, handler);
  }

  private tableMatch(method: string, rawPath: string): RouteMatch | undefined {
    const found = this.table.match(method, rawPath);
    return found && { ...found, operation: undefined };
  }
}
