// An in-process fake of Modal's control plane, for tests and benchmarks.
//
// The real SDK (`modal` 0.11.1) talks to the control plane through `client.cpClient`,
// an object whose async methods are the gRPC calls. `new ModalClient({ cpClient })`
// accepts a replacement, so this fake implements those methods with real state:
// apps, environments, named and ephemeral secrets, images (cached by definition),
// and sandboxes (V1 and V2) with names, tags, lifetimes and results.
//
// With an injected cpClient the SDK applies none of its middleware (no retries,
// no auth, no timeouts): a ClientError thrown here reaches the caller as is.
import { ClientError, Status } from "nice-grpc";
import { ModalClient, type ModalClientParams } from "modal";
import { randomInt } from "node:crypto";

// ---------------------------------------------------------------------------------
// Public types

export interface FakeSandbox {
  sandboxId: string;
  /** "v1" when created by SandboxCreate (gpu or MODAL_SANDBOX_V2=0), else "v2". */
  version: "v1" | "v2";
  appId: string;
  appName: string;
  name: string | undefined;
  imageId: string;
  /** The registry tag of the image (from its `FROM <tag>` line). */
  imageTag: string;
  /** The raw proto `definition` received by SandboxCreate / SandboxCreateV2. */
  definition: unknown;
  /** The raw create request (definition, tags, secretSources, ...). */
  request: unknown;
  /** The environment the container sees: every secret source merged in order (later wins). */
  env: Record<string, string>;
  /** Names of the named secrets (client.secrets.fromName) attached, in order. */
  secretNames: string[];
  tags: Record<string, string>;
  /** Cores (milliCpu / 1000); undefined when not requested. */
  cpu: number | undefined;
  /** MiB (proto memoryMb); undefined when not requested. */
  memoryMiB: number | undefined;
  /** e.g. "T4" or "A100:2" (type upper-cased by the SDK); undefined without a GPU. */
  gpu: string | undefined;
  timeoutSecs: number;
  regions: string[];
  /** Outbound network mode from definition.networkAccess. */
  egress: "open" | "blocked" | "allowlist";
  blockNetwork: boolean;
  cidrAllowlist: string[];
  domainAllowlist: string[];
  command: string[];
  /** The runtime the create request asked for ("vm", "gvisor"); undefined lets Modal pick. */
  runtime: string | undefined;
  /** The create request's experimental options (the SDK sends them as strings: `{ enable_docker: "true" }`). */
  experimentalOptions: Record<string, string>;
  /** Epoch milliseconds. */
  createdAt: number;
  /** Epoch milliseconds; undefined while running. */
  finishedAt: number | undefined;
  state: "running" | "finished";
  /** What the SDK's `sandbox.wait()` returns: the exit code, 137 when terminated, 124 on timeout. */
  exitCode: number | undefined;
  endedBy: "exit" | "terminate" | "timeout" | undefined;
}

export interface SandboxProcess {
  readonly sandbox: FakeSandbox;
  /** The entrypoint exits with this code (no-op when the sandbox already ended). */
  exit(code: number): void;
  /** Resolves when the sandbox ends, however it ends. */
  readonly ended: Promise<void>;
  isRunning(): boolean;
}

export interface FakeModalOptions {
  latencyMs?: number;
  /**
   * The timers that play each call's latency (default: the wall clock's). A test that
   * plays a slow Modal (a 15 s create) passes a clock it advances instead of waiting.
   */
  latencyTimers?: { setTimeout(fn: () => void, ms: number): unknown };
  /**
   * Modal's time: when sandboxes are created and end, when calls arrive. Default: the wall
   * clock. A test that skips the App's time ahead passes the same clock's now, so a sandbox
   * created after the skip is not already old to the App.
   */
  now?: () => number;
  /**
   * The timers that end each sandbox after its timeout (default: the wall clock's, which
   * never keep the process alive). A test of the timeout passes a clock it advances.
   */
  lifetimeTimers?: { setTimeout(fn: () => void, ms: number): unknown; clearTimeout(handle: unknown): void };
}

/** The wall clock's timers, unref'd: a sandbox's lifetime never keeps a test process alive. */
const wallTimers: NonNullable<FakeModalOptions["lifetimeTimers"]> = {
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface FakeImage {
  imageId: string;
  tag: string;
  dockerfileCommands: string[];
  state: "building" | "ready" | "failed";
  /** How many times this definition was built (a failed build is forgotten: the next request builds again under a new id). */
  builds: number;
}

export interface FakeCall {
  method: string;
  at: number;
  request: unknown;
}

// ---------------------------------------------------------------------------------
// Internals

// Proto enum values used by the SDK (see node_modules/modal/dist/index.d.ts).
const GENERIC_STATUS_SUCCESS = 1;
const GENERIC_STATUS_FAILURE = 2;
const GENERIC_STATUS_TERMINATED = 3;
const GENERIC_STATUS_TIMEOUT = 4;
const OBJECT_CREATION_TYPE_CREATE_IF_MISSING = 1;
const OBJECT_CREATION_TYPE_EPHEMERAL = 5;
const NETWORK_ACCESS_BLOCKED = 2;
const NETWORK_ACCESS_ALLOWLIST = 3;

const DEFAULT_ENVIRONMENT = "main";
const IMAGE_BUILDER_VERSION = "2025.06";

interface GenericResult {
  status: number;
  exception: string;
  exitcode: number;
  traceback: string;
  serializedTb: Uint8Array;
  tbLineCache: Uint8Array;
  propagationReason: string;
}

interface TagProto {
  tagName: string;
  tagValue: string;
}

interface SandboxRecord {
  fake: FakeSandbox;
  taskId: string;
  createdAtSecs: number;
  environmentName: string;
  result: GenericResult | undefined;
  lifetimeTimer: unknown;
  endedPromise: Promise<void>;
  resolveEnded: () => void;
}

interface AppRecord {
  appId: string;
  name: string;
  environmentName: string;
}

interface SecretRecord {
  secretId: string;
  name: string | undefined;
  environmentName: string;
  env: Record<string, string>;
}

interface ImageRecord extends FakeImage {
  key: string;
  result: GenericResult | undefined;
  done: Promise<void>;
  resolveDone: () => void;
  timer: NodeJS.Timeout | undefined;
}

/** Which RPCs an injected outage refuses: all, none, only sandbox creation, or all but it. */
export type Outage = boolean | "create" | "all-but-create";

interface Fault {
  code: Status;
  message: string;
  remaining: number;
  /** Apply the request first, then fail (the response is lost). */
  afterEffect: boolean;
  /** Never answer (before or after the effect): the caller was cut off mid-call. */
  hang?: boolean;
}

/** A call that is never answered. */
const NEVER = new Promise<never>(() => undefined);

type Handler = (request: any, options?: unknown) => Promise<unknown>;

const ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
function randomAlnum(length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) out += ALNUM[randomInt(ALNUM.length)];
  return out;
}
function objectId(prefix: string): string {
  return `${prefix}-${randomAlnum(22)}`;
}
/** V1 ids match the SDK's isV1SandboxId: "sb-" + 22 alphanumerics. */
function v1SandboxId(): string {
  return `sb-${randomAlnum(22)}`;
}
/** V2 ids must NOT match isV1SandboxId: a 26-character suffix is never taken for V1. */
function v2SandboxId(): string {
  return `sb-${randomAlnum(26)}`;
}
export function isV1SandboxIdShape(sandboxId: string): boolean {
  return /^sb-[0-9A-Za-z]{22}$/.test(sandboxId);
}

function grpcPath(method: string): string {
  return `/modal.client.ModalClient/${method.charAt(0).toUpperCase()}${method.slice(1)}`;
}
function grpcError(method: string, code: Status, message: string): ClientError {
  return new ClientError(grpcPath(method), code, message);
}

function genericResult(status: number, exitcode: number, exception = ""): GenericResult {
  return {
    status,
    exception,
    exitcode,
    traceback: "",
    serializedTb: new Uint8Array(),
    tbLineCache: new Uint8Array(),
    propagationReason: "",
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function tagsToRecord(tags: TagProto[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of tags ?? []) out[t.tagName] = t.tagValue;
  return out;
}
function recordToTags(tags: Record<string, string>): TagProto[] {
  return Object.entries(tags).map(([tagName, tagValue]) => ({ tagName, tagValue }));
}
function envName(name: string | undefined): string {
  return name && name !== "" ? name : DEFAULT_ENVIRONMENT;
}

// ---------------------------------------------------------------------------------

export class FakeModal {
  /** Added to every RPC before it is handled. */
  latencyMs: number;
  /** Extra latency per RPC name, e.g. { sandboxCreateV2: 15000 }. */
  methodLatencyMs: Record<string, number> = {};
  /** Page size of SandboxList / SandboxListV2. */
  listPageSize = 100;
  /** When > 0, image builds take this long: ImageGetOrCreate answers without a result and the SDK joins ImageJoinStreaming. */
  imageBuildMs = 0;
  /** Longest time SandboxWait(V2) holds a request open waiting for the sandbox to finish. */
  maxWaitPollMs = 1000;
  /** Every RPC, in order (including failed ones). */
  readonly calls: FakeCall[] = [];
  /** Names of RPCs the SDK called that this fake does not implement. */
  readonly unimplemented: string[] = [];
  /** Called when a sandbox starts running: the sandbox's "entrypoint". */
  onSandboxStart: ((p: SandboxProcess) => void) | undefined;
  readonly cpClient: any;

  #outage: Outage = false;
  #faults = new Map<string, Fault[]>();
  #apps = new Map<string, AppRecord>(); // by appId
  #environments = new Map<string, string>(); // name -> environmentId
  #secrets = new Map<string, SecretRecord>(); // by secretId
  #imagesByKey = new Map<string, ImageRecord>();
  #imagesById = new Map<string, ImageRecord>();
  #imageFailures = new Map<string, string>(); // tag -> exception message
  #imageBuilds = 0;
  #sandboxes = new Map<string, SandboxRecord>(); // by sandboxId, in creation order
  #lastCreatedAtSecs = 0;
  #waitTimers = new Set<NodeJS.Timeout>();
  #waiters = new Set<() => void>();
  #handlers: Record<string, Handler>;
  #inFlight = new Map<string, number>();
  #mostInFlight = new Map<string, number>();
  readonly #latencyTimers: FakeModalOptions["latencyTimers"];
  readonly #lifetimeTimers: NonNullable<FakeModalOptions["lifetimeTimers"]>;
  readonly #now: () => number;

  constructor(options: FakeModalOptions = {}) {
    this.latencyMs = options.latencyMs ?? 0;
    this.#latencyTimers = options.latencyTimers;
    this.#now = options.now ?? Date.now;
    this.#lifetimeTimers = options.lifetimeTimers ?? wallTimers;
    this.#handlers = this.#buildHandlers();
    const handlers = this.#handlers;
    const self = this;
    const wrapped = new Map<string, unknown>();
    this.cpClient = new Proxy(
      {},
      {
        get(_target, prop) {
          // Never look like a thenable or anything else when probed.
          if (typeof prop !== "string" || prop === "then" || prop === "toJSON") return undefined;
          const cached = wrapped.get(prop);
          if (cached) return cached;
          let fn: unknown;
          if (prop === "imageJoinStreaming") {
            fn = (request: unknown) => self.#imageJoinStreaming(request);
          } else {
            const handler = handlers[prop];
            if (handler) {
              fn = (request: unknown, options?: unknown) => self.#invoke(prop, request, () => handler(request, options));
            } else {
              fn = async (request: unknown) => {
                self.calls.push({ method: prop, at: self.#now(), request });
                self.unimplemented.push(prop);
                throw grpcError(prop, Status.UNIMPLEMENTED, `FakeModal does not implement ${prop}`);
              };
            }
          }
          wrapped.set(prop, fn);
          return fn;
        },
      },
    );
  }

  /**
   * A real SDK client talking to this fake. The SDK reads MODAL_* (e.g. MODAL_SANDBOX_V2)
   * from process.env here, at construction. Extra params (environment, logger, ...) pass through.
   */
  client(params: Omit<ModalClientParams, "cpClient"> = {}): ModalClient {
    return new ModalClient({ tokenId: "ak-test", tokenSecret: "as-test", ...params, cpClient: this.cpClient });
  }

  // ---- fault injection ----------------------------------------------------------

  /** The next `times` calls of `method` fail with `code` before touching any state. */
  failNext(method: string, code: Status, times = 1, message?: string): void {
    this.#addFault(method, { code, message: message ?? `injected ${Status[code]}`, remaining: times, afterEffect: false });
  }

  /** The next `times` calls of `method` take effect, then fail with `code` (the answer is lost on the way back). */
  failNextAfterEffect(method: string, code: Status, times = 1, message?: string): void {
    this.#addFault(method, { code, message: message ?? `injected ${Status[code]} after effect`, remaining: times, afterEffect: true });
  }

  /**
   * The next `times` calls of `method` are never answered, like a process killed while
   * it waited: before they take effect, or (`afterEffect`) after (the sandbox exists).
   */
  hangNext(method: string, options: { afterEffect?: boolean; times?: number } = {}): void {
    const afterEffect = options.afterEffect ?? false;
    this.#addFault(method, { code: Status.UNKNOWN, message: "hung", remaining: options.times ?? 1, afterEffect, hang: true });
  }

  /**
   * While down, every RPC throws UNAVAILABLE. "create": only sandbox creation does
   * (SandboxCreate, SandboxCreateV2), as in a capacity incident where lists and
   * lookups still answer. "all-but-create": every RPC but sandbox creation does.
   */
  setOutage(down: Outage): void {
    this.#outage = down;
  }

  /** Every new build of an image whose base tag is `tag` fails with `message` (cached images are not rebuilt). */
  failImageBuild(tag: string, message: string): void {
    this.#imageFailures.set(tag, message);
  }

  clearImageBuildFailure(tag: string): void {
    this.#imageFailures.delete(tag);
  }

  // ---- seeding ------------------------------------------------------------------

  /** Pre-create a named secret (client.secrets.fromName finds it). */
  addSecret(name: string, env: Record<string, string>, environmentName?: string): string {
    const environment = envName(environmentName);
    const existing = [...this.#secrets.values()].find((s) => s.name === name && s.environmentName === environment);
    if (existing) {
      existing.env = { ...env };
      return existing.secretId;
    }
    const secretId = objectId("st");
    this.#secrets.set(secretId, { secretId, name, environmentName: environment, env: { ...env } });
    return secretId;
  }

  /** Pre-create (or look up) an app; returns its id. */
  addApp(name: string, environmentName?: string): string {
    return this.#getOrCreateApp(name, envName(environmentName)).appId;
  }

  // ---- inspection ---------------------------------------------------------------

  sandboxes(): FakeSandbox[] {
    return [...this.#sandboxes.values()].map((r) => r.fake);
  }

  running(): FakeSandbox[] {
    return this.sandboxes().filter((s) => s.state === "running");
  }

  /** The running sandbox with this name (any app). */
  byName(name: string): FakeSandbox | undefined {
    return this.running().find((s) => s.name === name);
  }

  sandbox(sandboxId: string): FakeSandbox | undefined {
    return this.#sandboxes.get(sandboxId)?.fake;
  }

  /** The process handle of a sandbox (the same object onSandboxStart received). */
  process(sandboxId: string): SandboxProcess | undefined {
    const rec = this.#sandboxes.get(sandboxId);
    return rec ? this.#processFor(rec) : undefined;
  }

  /** Total image builds performed (cache hits and joins of an in-flight build do not count). */
  imageBuilds(): number {
    return this.#imageBuilds;
  }

  images(): FakeImage[] {
    return [...this.#imagesById.values()].map(({ imageId, tag, dockerfileCommands, state, builds }) => ({
      imageId,
      tag,
      dockerfileCommands,
      state,
      builds,
    }));
  }

  apps(): Array<{ appId: string; name: string; environmentName: string }> {
    return [...this.#apps.values()].map((a) => ({ ...a }));
  }

  /** RPC names called so far, in order. */
  methods(): string[] {
    return this.calls.map((c) => c.method);
  }

  // ---- lifecycle control --------------------------------------------------------

  /** The entrypoint exits with `code`: the sandbox finishes and its name is free again. */
  exitSandbox(sandboxId: string, code: number): void {
    const rec = this.#sandboxes.get(sandboxId);
    if (!rec) throw new Error(`FakeModal: no sandbox ${sandboxId}`);
    this.#finish(rec, "exit", code === 0 ? genericResult(GENERIC_STATUS_SUCCESS, 0) : genericResult(GENERIC_STATUS_FAILURE, code), code);
  }

  /** Terminate from the platform side (as SandboxTerminate does). */
  terminateSandbox(sandboxId: string): void {
    const rec = this.#sandboxes.get(sandboxId);
    if (!rec) throw new Error(`FakeModal: no sandbox ${sandboxId}`);
    this.#finish(rec, "terminate", genericResult(GENERIC_STATUS_TERMINATED, 0), 137);
  }

  /** Clear every timer (sandbox lifetimes, image builds, pending waits). Sandboxes keep their state. */
  close(): void {
    for (const rec of this.#sandboxes.values()) {
      if (rec.lifetimeTimer !== undefined) this.#lifetimeTimers.clearTimeout(rec.lifetimeTimer);
      rec.lifetimeTimer = undefined;
    }
    for (const img of this.#imagesByKey.values()) {
      if (img.timer) clearTimeout(img.timer);
      img.timer = undefined;
    }
    for (const t of this.#waitTimers) clearTimeout(t);
    this.#waitTimers.clear();
    for (const wake of [...this.#waiters]) wake();
    this.#waiters.clear();
  }

  // ---- RPC plumbing -------------------------------------------------------------

  /** RPC names this fake implements. */
  implementedMethods(): string[] {
    return [...Object.keys(this.#handlers), "imageJoinStreaming"];
  }

  #addFault(method: string, fault: Fault): void {
    if (!this.implementedMethods().includes(method)) {
      throw new Error(`FakeModal: cannot inject a fault into unknown RPC '${method}' (known: ${this.implementedMethods().join(", ")})`);
    }
    const list = this.#faults.get(method) ?? [];
    list.push(fault);
    this.#faults.set(method, list);
  }

  #takeFault(method: string): Fault | undefined {
    const list = this.#faults.get(method);
    const fault = list?.[0];
    if (!list || !fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining <= 0) list.shift();
    return fault;
  }

  async #preamble(method: string, request: unknown): Promise<Fault | undefined> {
    this.calls.push({ method, at: this.#now(), request });
    const delay = this.latencyMs + (this.methodLatencyMs[method] ?? 0);
    if (delay > 0) {
      const timers = this.#latencyTimers;
      await (timers ? new Promise<void>((resolve) => void timers.setTimeout(resolve, delay)) : sleep(delay));
    }
    const creation = method === "sandboxCreate" || method === "sandboxCreateV2";
    if (this.#outage === true || (this.#outage === "create" && creation) || (this.#outage === "all-but-create" && !creation))
      throw grpcError(method, Status.UNAVAILABLE, "Modal is unavailable (injected outage)");
    const fault = this.#takeFault(method);
    if (fault?.hang && !fault.afterEffect) return NEVER;
    if (fault && !fault.afterEffect) throw grpcError(method, fault.code, fault.message);
    return fault;
  }

  async #invoke(method: string, request: unknown, run: () => Promise<unknown>): Promise<unknown> {
    const inFlight = (this.#inFlight.get(method) ?? 0) + 1;
    this.#inFlight.set(method, inFlight);
    this.#mostInFlight.set(method, Math.max(this.#mostInFlight.get(method) ?? 0, inFlight));
    try {
      const fault = await this.#preamble(method, request);
      const response = await run();
      if (fault?.hang) return await NEVER;
      if (fault) throw grpcError(method, fault.code, fault.message);
      return response;
    } finally {
      this.#inFlight.set(method, (this.#inFlight.get(method) ?? 1) - 1);
    }
  }

  /** The most calls of `method` that were in flight at the same time. */
  mostInFlight(method: string): number {
    return this.#mostInFlight.get(method) ?? 0;
  }

  #buildHandlers(): Record<string, Handler> {
    return {
      environmentGetOrCreate: async (req) => this.#environmentGetOrCreate(req),
      appGetOrCreate: async (req) => this.#appGetOrCreate(req),
      secretGetOrCreate: async (req) => this.#secretGetOrCreate(req),
      imageGetOrCreate: async (req) => this.#imageGetOrCreate(req),
      imageFromId: async (req) => {
        const img = this.#imagesById.get(String(req?.imageId ?? ""));
        if (!img || img.state !== "ready") throw grpcError("imageFromId", Status.NOT_FOUND, `Could not find image with ID ${req?.imageId}`);
        return { imageId: img.imageId, metadata: undefined };
      },
      sandboxCreate: async (req) => this.#sandboxCreate("v1", req),
      sandboxCreateV2: async (req) => this.#sandboxCreate("v2", req),
      sandboxGetTaskId: async (req) => this.#sandboxGetTaskId("sandboxGetTaskId", "v1", req),
      sandboxGetTaskIdV2: async (req) => this.#sandboxGetTaskId("sandboxGetTaskIdV2", "v2", req),
      sandboxList: async (req) => this.#sandboxList("v1", req),
      sandboxListV2: async (req) => this.#sandboxList("v2", req),
      sandboxGetFromName: async (req) => this.#sandboxGetFromName("sandboxGetFromName", "v1", req),
      sandboxGetFromNameV2: async (req) => this.#sandboxGetFromName("sandboxGetFromNameV2", "v2", req),
      sandboxTagsSet: async (req) => this.#sandboxTagsSet("sandboxTagsSet", "v1", req),
      sandboxTagsSetV2: async (req) => this.#sandboxTagsSet("sandboxTagsSetV2", "v2", req),
      sandboxTagsGet: async (req) => this.#sandboxTagsGet("sandboxTagsGet", "v1", req),
      sandboxTagsGetV2: async (req) => this.#sandboxTagsGet("sandboxTagsGetV2", "v2", req),
      sandboxTerminate: async (req) => this.#sandboxTerminate("sandboxTerminate", "v1", req),
      sandboxTerminateV2: async (req) => this.#sandboxTerminate("sandboxTerminateV2", "v2", req),
      sandboxWait: async (req) => this.#sandboxWait("sandboxWait", "v1", req),
      sandboxWaitV2: async (req) => this.#sandboxWait("sandboxWaitV2", "v2", req),
    };
  }

  // ---- environments, apps, secrets ----------------------------------------------

  #environmentId(name: string): string {
    let id = this.#environments.get(name);
    if (!id) {
      id = objectId("en");
      this.#environments.set(name, id);
    }
    return id;
  }

  #environmentGetOrCreate(req: { deploymentName?: string }): unknown {
    const name = envName(req?.deploymentName);
    return {
      environmentId: this.#environmentId(name),
      metadata: {
        name,
        settings: { imageBuilderVersion: IMAGE_BUILDER_VERSION, webhookSuffix: "modal.run" },
        environmentType: 0,
      },
    };
  }

  #findApp(name: string, environmentName: string): AppRecord | undefined {
    return [...this.#apps.values()].find((a) => a.name === name && a.environmentName === environmentName);
  }

  #getOrCreateApp(name: string, environmentName: string): AppRecord {
    const existing = this.#findApp(name, environmentName);
    if (existing) return existing;
    this.#environmentId(environmentName);
    const app: AppRecord = { appId: objectId("ap"), name, environmentName };
    this.#apps.set(app.appId, app);
    return app;
  }

  #appGetOrCreate(req: { appName?: string; environmentName?: string; objectCreationType?: number }): unknown {
    const name = String(req?.appName ?? "");
    const environment = envName(req?.environmentName);
    if (!name) throw grpcError("appGetOrCreate", Status.INVALID_ARGUMENT, "App name is required");
    let app = this.#findApp(name, environment);
    if (!app) {
      if (req.objectCreationType !== OBJECT_CREATION_TYPE_CREATE_IF_MISSING) {
        throw grpcError("appGetOrCreate", Status.NOT_FOUND, `App '${name}' not found in environment '${environment}'`);
      }
      app = this.#getOrCreateApp(name, environment);
    }
    return { appId: app.appId, handleMetadata: undefined };
  }

  #secretGetOrCreate(req: {
    deploymentName?: string;
    environmentName?: string;
    objectCreationType?: number;
    envDict?: Record<string, string>;
    requiredKeys?: string[];
  }): unknown {
    const environment = envName(req?.environmentName);
    if (req?.objectCreationType === OBJECT_CREATION_TYPE_EPHEMERAL) {
      const secretId = objectId("st");
      this.#secrets.set(secretId, { secretId, name: undefined, environmentName: environment, env: { ...(req.envDict ?? {}) } });
      return { secretId, metadata: undefined };
    }
    const name = String(req?.deploymentName ?? "");
    let secret = [...this.#secrets.values()].find((s) => s.name === name && s.environmentName === environment);
    if (!secret) {
      if (req?.objectCreationType !== OBJECT_CREATION_TYPE_CREATE_IF_MISSING) {
        throw grpcError("secretGetOrCreate", Status.NOT_FOUND, `Secret '${name}' not found in environment '${environment}'`);
      }
      const secretId = this.addSecret(name, req.envDict ?? {}, environment);
      secret = this.#secrets.get(secretId)!;
    }
    const missing = (req?.requiredKeys ?? []).filter((k) => !(k in secret.env));
    if (missing.length > 0) {
      throw grpcError("secretGetOrCreate", Status.FAILED_PRECONDITION, `Secret is missing key(s): ${missing.join(", ")}`);
    }
    return { secretId: secret.secretId, metadata: undefined };
  }

  // ---- images -------------------------------------------------------------------

  #imageTagOf(commands: string[], baseImages: Array<{ dockerTag?: string; imageId?: string }>): string {
    const from = commands.find((c) => /^\s*FROM\s+/i.test(c));
    const ref = from?.trim().split(/\s+/)[1] ?? "";
    const base = baseImages.find((b) => b.dockerTag === ref);
    if (base?.imageId) return this.#imagesById.get(base.imageId)?.tag ?? ref;
    return ref;
  }

  #imageGetOrCreate(req: {
    appId?: string;
    image?: {
      dockerfileCommands?: string[];
      baseImages?: Array<{ dockerTag?: string; imageId?: string }>;
      gpuConfig?: unknown;
      imageRegistryConfig?: unknown;
    };
    builderVersion?: string;
    forceBuild?: boolean;
  }): unknown {
    if (!req?.appId || !this.#apps.has(req.appId)) {
      throw grpcError("imageGetOrCreate", Status.NOT_FOUND, `App '${req?.appId}' not found`);
    }
    const commands = [...(req.image?.dockerfileCommands ?? [])];
    const baseImages = [...(req.image?.baseImages ?? [])];
    for (const b of baseImages) {
      if (b.imageId && this.#imagesById.get(b.imageId)?.state !== "ready") {
        throw grpcError("imageGetOrCreate", Status.NOT_FOUND, `Base image ${b.imageId} not found`);
      }
    }
    const key = JSON.stringify({
      commands,
      baseImages: baseImages.map((b) => [b.dockerTag, b.imageId]),
      gpu: req.image?.gpuConfig ?? null,
      registry: req.image?.imageRegistryConfig ?? null,
      builderVersion: req.builderVersion ?? "",
    });
    let img = this.#imagesByKey.get(key);
    if (img && img.state === "failed") {
      this.#imagesByKey.delete(key);
      img = undefined;
    }
    if (img && req.forceBuild && img.state === "ready") {
      this.#startBuild(img);
    }
    if (!img) {
      let resolveDone!: () => void;
      const done = new Promise<void>((r) => (resolveDone = r));
      img = {
        key,
        imageId: objectId("im"),
        tag: this.#imageTagOf(commands, baseImages),
        dockerfileCommands: commands,
        state: "building",
        builds: 0,
        result: undefined,
        done,
        resolveDone,
        timer: undefined,
      };
      this.#imagesByKey.set(key, img);
      this.#imagesById.set(img.imageId, img);
      this.#startBuild(img);
    }
    return { imageId: img.imageId, result: img.state === "building" ? undefined : img.result, metadata: undefined };
  }

  #startBuild(img: ImageRecord): void {
    this.#imageBuilds += 1;
    img.builds += 1;
    if (img.state !== "building") {
      img.state = "building";
      img.result = undefined;
      img.done = new Promise<void>((r) => (img.resolveDone = r));
    }
    const complete = () => {
      img.timer = undefined;
      const failure = this.#imageFailures.get(img.tag);
      if (failure !== undefined) {
        img.state = "failed";
        img.result = genericResult(GENERIC_STATUS_FAILURE, 1, failure);
      } else {
        img.state = "ready";
        img.result = genericResult(GENERIC_STATUS_SUCCESS, 0);
      }
      img.resolveDone();
    };
    if (this.imageBuildMs > 0) {
      img.timer = setTimeout(complete, this.imageBuildMs);
    } else {
      complete();
    }
  }

  async *#imageJoinStreaming(request: unknown): AsyncGenerator<unknown, void, unknown> {
    const method = "imageJoinStreaming";
    const fault = await this.#preamble(method, request);
    const req = request as { imageId?: string; timeout?: number } | undefined;
    const img = this.#imagesById.get(String(req?.imageId ?? ""));
    if (!img) throw grpcError(method, Status.NOT_FOUND, `Image ${req?.imageId} not found`);
    if (img.state === "building") {
      const timeoutMs = Math.max(0, (req?.timeout ?? 55) * 1000);
      await this.#waitAtMost(img.done, timeoutMs);
    }
    if (fault) throw grpcError(method, fault.code, fault.message);
    if (img.state === "building") {
      yield { result: undefined, taskLogs: [], entryId: `${Date.now()}-0`, eof: false, metadata: undefined };
      return;
    }
    yield { result: img.result, taskLogs: [], entryId: `${Date.now()}-1`, eof: true, metadata: undefined };
  }

  /** Wait for `promise`, at most `ms` (an unref'd timer, cleared by close()). */
  #waitAtMost(promise: Promise<void>, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let settled = false;
      const wake = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#waitTimers.delete(timer);
        this.#waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      timer.unref();
      this.#waitTimers.add(timer);
      this.#waiters.add(wake);
      promise.then(wake, wake);
    });
  }

  // ---- sandboxes ----------------------------------------------------------------

  #record(method: string, version: "v1" | "v2", sandboxId: unknown): SandboxRecord {
    const id = String(sandboxId ?? "");
    const rec = this.#sandboxes.get(id);
    if (!rec) throw grpcError(method, Status.NOT_FOUND, `Sandbox ${id} not found`);
    if (rec.fake.version !== version) {
      // The SDK picks V1 or V2 RPCs from the id shape; a mismatch means a malformed id.
      throw grpcError(method, Status.NOT_FOUND, `Sandbox ${id} not found (a ${rec.fake.version} sandbox asked through a ${version} RPC)`);
    }
    return rec;
  }

  #sandboxCreate(version: "v1" | "v2", req: any): unknown {
    const method = version === "v1" ? "sandboxCreate" : "sandboxCreateV2";
    const app = this.#apps.get(String(req?.appId ?? ""));
    if (!app) throw grpcError(method, Status.NOT_FOUND, `App '${req?.appId}' not found`);
    const def = req?.definition;
    if (!def) throw grpcError(method, Status.INVALID_ARGUMENT, "definition is required");
    const image = this.#imagesById.get(String(def.imageId ?? ""));
    if (!image || image.state !== "ready") {
      throw grpcError(method, Status.NOT_FOUND, `Image ${def.imageId} not found or not built`);
    }

    const gpuConfig = def.resources?.gpuConfig as { gpuType?: string; count?: number } | undefined;
    const gpu = gpuConfig?.gpuType
      ? (gpuConfig.count ?? 1) > 1
        ? `${gpuConfig.gpuType}:${gpuConfig.count}`
        : gpuConfig.gpuType
      : undefined;
    if (version === "v2" && gpu) {
      throw grpcError(method, Status.INVALID_ARGUMENT, "GPUs are not supported by V2 sandboxes");
    }

    // Secrets and env, in the order the container would apply them.
    const env: Record<string, string> = {};
    const secretNames: string[] = [];
    const useSecret = (secretId: string) => {
      const secret = this.#secrets.get(secretId);
      if (!secret) throw grpcError(method, Status.NOT_FOUND, `Secret ${secretId} not found`);
      if (secret.name !== undefined && !secretNames.includes(secret.name)) secretNames.push(secret.name);
      Object.assign(env, secret.env);
    };
    const secretIds: string[] = [...(def.secretIds ?? [])];
    const sources: Array<{ secretId?: string; env?: { contents?: Record<string, string> } }> = req?.secretSources ?? [];
    if (version === "v2" && sources.length > 0) {
      for (const id of secretIds) if (!this.#secrets.has(id)) throw grpcError(method, Status.NOT_FOUND, `Secret ${id} not found`);
      for (const source of sources) {
        if (source.secretId) useSecret(source.secretId);
        else if (source.env?.contents) Object.assign(env, source.env.contents);
      }
    } else {
      for (const id of secretIds) useSecret(id);
    }
    if (version === "v2" && req?.ephemeralSecrets?.contents) Object.assign(env, req.ephemeralSecrets.contents);
    if (def.environmentVariables?.contents) Object.assign(env, def.environmentVariables.contents);

    const name: string | undefined = def.name ? String(def.name) : undefined;
    if (name !== undefined) {
      const clash = [...this.#sandboxes.values()].find(
        (r) => r.fake.appId === app.appId && r.fake.name === name && r.fake.state === "running",
      );
      if (clash) {
        throw grpcError(method, Status.ALREADY_EXISTS, `A running Sandbox named '${name}' already exists in App '${app.name}'`);
      }
    }

    const network = def.networkAccess as { networkAccessType?: number; allowedCidrs?: string[]; allowedDomains?: string[] } | undefined;
    const egress: FakeSandbox["egress"] =
      network?.networkAccessType === NETWORK_ACCESS_BLOCKED || def.blockNetwork
        ? "blocked"
        : network?.networkAccessType === NETWORK_ACCESS_ALLOWLIST
          ? "allowlist"
          : "open";

    const runtime = def.runtime ? String(def.runtime) : undefined;
    if (runtime !== undefined && runtime !== "gvisor" && runtime !== "vm")
      throw grpcError(method, Status.INVALID_ARGUMENT, `unknown sandbox runtime '${runtime}'`);
    const experimentalOptions: Record<string, string> = { ...(def.experimentalOptionsV2 ?? def.experimentalOptions ?? {}) };

    const now = this.#now();
    const createdAtSecs = Math.max(now / 1000, this.#lastCreatedAtSecs + 1e-5);
    this.#lastCreatedAtSecs = createdAtSecs;
    const milliCpu = Number(def.resources?.milliCpu ?? 0);
    const memoryMb = Number(def.resources?.memoryMb ?? 0);
    const fake: FakeSandbox = {
      sandboxId: version === "v1" ? v1SandboxId() : v2SandboxId(),
      version,
      appId: app.appId,
      appName: app.name,
      name,
      imageId: image.imageId,
      imageTag: image.tag,
      definition: def,
      request: req,
      env,
      secretNames,
      tags: tagsToRecord(req?.tags),
      cpu: milliCpu > 0 ? milliCpu / 1000 : undefined,
      memoryMiB: memoryMb > 0 ? memoryMb : undefined,
      gpu,
      timeoutSecs: Number(def.timeoutSecs ?? 300),
      regions: [...(def.schedulerPlacement?.regions ?? [])],
      egress,
      blockNetwork: egress === "blocked",
      cidrAllowlist: [...(network?.allowedCidrs ?? [])],
      domainAllowlist: [...(network?.allowedDomains ?? [])],
      command: [...(def.entrypointArgs ?? [])],
      runtime,
      experimentalOptions,
      createdAt: now,
      finishedAt: undefined,
      state: "running",
      exitCode: undefined,
      endedBy: undefined,
    };
    let resolveEnded!: () => void;
    const endedPromise = new Promise<void>((r) => (resolveEnded = r));
    const rec: SandboxRecord = {
      fake,
      taskId: objectId("ta"),
      createdAtSecs,
      environmentName: app.environmentName,
      result: undefined,
      lifetimeTimer: undefined,
      endedPromise,
      resolveEnded,
    };
    this.#sandboxes.set(fake.sandboxId, rec);
    if (fake.timeoutSecs > 0) {
      rec.lifetimeTimer = this.#lifetimeTimers.setTimeout(() => {
        rec.lifetimeTimer = undefined;
        this.#finish(rec, "timeout", genericResult(GENERIC_STATUS_TIMEOUT, 0, "Sandbox timed out"), 124);
      }, fake.timeoutSecs * 1000);
    }
    const hook = this.onSandboxStart;
    if (hook) {
      try {
        hook(this.#processFor(rec));
      } catch {
        // The entrypoint's bugs are not the control plane's.
      }
    }
    const metadata = { appId: app.appId, result: undefined };
    if (version === "v1") return { sandboxId: fake.sandboxId, metadata };
    return {
      sandboxId: fake.sandboxId,
      tunnels: [],
      taskId: rec.taskId,
      metadata,
      commandRouterAccess: undefined,
      sandboxToken: "",
    };
  }

  #processFor(rec: SandboxRecord): SandboxProcess {
    return {
      sandbox: rec.fake,
      exit: (code: number) => {
        if (rec.fake.state === "running") this.exitSandbox(rec.fake.sandboxId, code);
      },
      ended: rec.endedPromise,
      isRunning: () => rec.fake.state === "running",
    };
  }

  #finish(rec: SandboxRecord, endedBy: NonNullable<FakeSandbox["endedBy"]>, result: GenericResult, exitCode: number): void {
    if (rec.fake.state !== "running") return;
    if (rec.lifetimeTimer !== undefined) this.#lifetimeTimers.clearTimeout(rec.lifetimeTimer);
    rec.lifetimeTimer = undefined;
    rec.result = result;
    rec.fake.state = "finished";
    rec.fake.endedBy = endedBy;
    rec.fake.exitCode = exitCode;
    rec.fake.finishedAt = this.#now();
    rec.resolveEnded();
  }

  #sandboxGetTaskId(method: string, version: "v1" | "v2", req: { sandboxId?: string }): unknown {
    const rec = this.#record(method, version, req?.sandboxId);
    return { taskId: rec.taskId, taskResult: rec.result };
  }

  #sandboxInfo(rec: SandboxRecord): unknown {
    const f = rec.fake;
    return {
      id: f.sandboxId,
      createdAt: rec.createdAtSecs,
      taskInfo: {
        id: rec.taskId,
        startedAt: rec.createdAtSecs,
        finishedAt: f.finishedAt ? f.finishedAt / 1000 : 0,
        result: rec.result,
        enqueuedAt: rec.createdAtSecs,
        gpuType: f.gpu ?? "",
        sandboxId: f.sandboxId,
        snapshotBehavior: 0,
        gpuConfig: undefined,
      },
      appId: f.appId,
      tags: recordToTags(f.tags),
      name: f.name ?? "",
      imageId: f.imageId,
      resourceInfo: undefined,
      regions: [...f.regions],
      timeoutSecs: f.timeoutSecs,
      tunnels: [],
      metadata: { appId: f.appId, result: rec.result },
    };
  }

  #sandboxList(
    version: "v1" | "v2",
    req: { appId?: string; beforeTimestamp?: number; environmentName?: string; includeFinished?: boolean; tags?: TagProto[] },
  ): unknown {
    const wanted = req?.tags ?? [];
    const before = req?.beforeTimestamp;
    const environment = envName(req?.environmentName);
    const matches = [...this.#sandboxes.values()]
      .filter((r) => (version === "v1" ? r.fake.version === "v1" : true)) // V2 listing sees both kinds
      .filter((r) => (req?.appId ? r.fake.appId === req.appId : r.environmentName === environment))
      .filter((r) => req?.includeFinished || r.fake.state === "running")
      .filter((r) => wanted.every((t) => r.fake.tags[t.tagName] === t.tagValue))
      .filter((r) => !before || r.createdAtSecs < before)
      .sort((a, b) => b.createdAtSecs - a.createdAtSecs)
      .slice(0, Math.max(1, this.listPageSize));
    return { sandboxes: matches.map((r) => this.#sandboxInfo(r)) };
  }

  #sandboxGetFromName(
    method: string,
    version: "v1" | "v2",
    req: { sandboxName?: string; appName?: string; environmentName?: string; includeTerminated?: boolean },
  ): unknown {
    const environment = envName(req?.environmentName);
    const app = this.#findApp(String(req?.appName ?? ""), environment);
    if (!app) throw grpcError(method, Status.NOT_FOUND, `App '${req?.appName}' not found`);
    const named = [...this.#sandboxes.values()]
      .filter((r) => r.fake.appId === app.appId && r.fake.name === req?.sandboxName && r.fake.version === version)
      .sort((a, b) => b.createdAtSecs - a.createdAtSecs);
    const found = named.find((r) => r.fake.state === "running") ?? (req?.includeTerminated ? named[0] : undefined);
    if (!found) throw grpcError(method, Status.NOT_FOUND, `Sandbox '${req?.sandboxName}' not found in App '${app.name}'`);
    return { sandboxId: found.fake.sandboxId, metadata: { appId: app.appId, result: found.result } };
  }

  #sandboxTagsSet(method: string, version: "v1" | "v2", req: { sandboxId?: string; tags?: TagProto[] }): unknown {
    const rec = this.#record(method, version, req?.sandboxId);
    for (const t of req?.tags ?? []) {
      if (!t.tagName) throw grpcError(method, Status.INVALID_ARGUMENT, "Tag names must not be empty");
    }
    rec.fake.tags = tagsToRecord(req?.tags);
    return {};
  }

  #sandboxTagsGet(method: string, version: "v1" | "v2", req: { sandboxId?: string }): unknown {
    const rec = this.#record(method, version, req?.sandboxId);
    return { tags: recordToTags(rec.fake.tags) };
  }

  #sandboxTerminate(method: string, version: "v1" | "v2", req: { sandboxId?: string }): unknown {
    const rec = this.#record(method, version, req?.sandboxId);
    const existingResult = rec.result;
    this.#finish(rec, "terminate", genericResult(GENERIC_STATUS_TERMINATED, 0), 137);
    return { existingResult };
  }

  async #sandboxWait(method: string, version: "v1" | "v2", req: { sandboxId?: string; timeout?: number }): Promise<unknown> {
    const rec = this.#record(method, version, req?.sandboxId);
    const timeoutMs = Math.min(Math.max(0, Number(req?.timeout ?? 0)) * 1000, this.maxWaitPollMs);
    if (rec.fake.state === "running" && timeoutMs > 0) {
      await this.#waitAtMost(rec.endedPromise, timeoutMs);
    }
    return { result: rec.result, metadata: { appId: rec.fake.appId, result: rec.result } };
  }
}
