// The Modal side: the app (created if missing) and each profile's runner image,
// resolved once and reused for every sandbox, and the few sandbox operations the
// App needs. Every call retries transient control-plane failures. Sandbox creation
// goes through a circuit breaker that judges it by creations alone: when Modal
// cannot create sandboxes, creates fail fast (CircuitOpenError) and one waiting
// job's create at a time looks for the recovery, while lists, lookups and
// terminations go on (a capacity incident leaves them answering, and a refused
// runner must still be stopped). An image that fails to build is reported and
// retried after a pause, without holding up other profiles.
import {
  AlreadyExistsError,
  NotFoundError,
  type App,
  type Image,
  type ModalClient,
  type Sandbox,
  type SandboxCreateParams,
  type Secret,
} from "modal";
import type { Logger } from "pino";
import type { RunnerProfile } from "../model/runner-profile.js";
import { describeFailure, isTransientModalError } from "../lib/errors.js";
import type { RunnerImageDefinition } from "../model/runner-profile.js";
import { MANAGED_BY } from "../model/sandbox-tags.js";
import type { Clock } from "../lib/clock.js";
import { PromiseMemo } from "../lib/promise-memo.js";
import { CircuitBreaker, CircuitOpenError, type CircuitBreakerOptions } from "./circuit-breaker.js";
import { DEFAULT_MODAL_RETRY, withModalRetry, type RetryOptions } from "./with-modal-retry.js";

export interface SandboxSpec {
  name: string;
  profile: RunnerProfile;
  command: string[];
  /** Only the sandbox sees these, besides the profile's; they are never logged. */
  env: Record<string, string>;
  tags: Record<string, string>;
}

/** A running sandbox of ours as the control plane lists it. */
export interface ListedSandbox {
  sandboxId: string;
  name: string;
  /** Epoch milliseconds. */
  createdAt: number;
  tags: Record<string, string>;
}

export interface FleetOptions {
  appName: string;
  environment: string | undefined;
  retry?: RetryOptions;
  /** How long a failed image build is not retried. */
  imageRetryMs?: number;
  now?: () => number;
  /** The breaker's time and probe timers (default: the system clock). */
  clock?: Clock;
  /** Tests shorten the breaker's probe backoff. */
  breaker?: Partial<Pick<CircuitBreakerOptions, "failureThreshold" | "probeBaseMs" | "probeMaxMs">>;
  /**
   * What the composition root adds to every sandbox's environment for a profile:
   * the receipt's figures (profile, price per second) and whether the runner may
   * skip its self-update. None of it is secret.
   */
  sandboxEnv?: (profile: RunnerProfile) => Record<string, string>;
  /** Changes an image's definition before it is built (RUNNER_VERSION=latest installs the newest runner). */
  extendImage?: (definition: RunnerImageDefinition) => Promise<RunnerImageDefinition>;
}

/** Tells the entrypoint (docker/runner/entrypoint.sh) to start dockerd before the runner. */
export const DOCKER_ENV = "MODAL_RUNNER_DOCKER";

/**
 * How a profile asks Modal for its runtime: Docker on the VM runtime is the VM
 * runtime itself (Modal's recommendation); Docker on gVisor is Modal's
 * `enable_docker` experimental option. The SDK sends both in the create request's
 * definition (`runtime`, `experimentalOptionsV2`).
 */
export function runtimeParams(profile: RunnerProfile): Pick<SandboxCreateParams, "runtime" | "experimentalOptions"> {
  const runtime = profile.docker === "vm" ? "vm" : profile.runtime;
  return {
    ...(runtime && { runtime }),
    ...(profile.docker === "gvisor" && { experimentalOptions: { enable_docker: true } }),
  };
}

interface Resolution<T> {
  value: Promise<T>;
  failedAt?: number;
}

export class Fleet {
  /** The app by name (one entry): created once, looked up again after a failure. */
  readonly #app = new PromiseMemo<string, App>(1);
  readonly #now: () => number;
  readonly #images = new Map<string, Resolution<Image>>();
  readonly #secrets = new PromiseMemo<string, Secret>();
  readonly #retry: RetryOptions;
  #calls = 0;
  /** Open while Modal fails to create sandboxes: see circuit-breaker.ts. */
  readonly breaker: CircuitBreaker;

  constructor(
    private readonly client: ModalClient,
    private readonly options: FleetOptions,
    private readonly log: Logger,
  ) {
    this.#retry = {
      ...(options.retry ?? DEFAULT_MODAL_RETRY),
      onRetry: (error, attempt, delayMs) =>
        log.warn({ attempt, delayMs, reason: describeFailure(error).reason }, "Modal call failed; retrying"),
    };
    this.#now = options.now ?? Date.now;
    this.breaker = new CircuitBreaker({
      ...options.breaker,
      ...(options.clock && { clock: options.clock }),
      onOpen: (reason) =>
        log.error(
          { reason },
          "Modal is not creating sandboxes: new jobs wait, no runner is registered for them, one job's create at a time looks for the recovery",
        ),
      onClose: (downForMs) => log.info({ downForMs }, "Modal creates sandboxes again: waiting jobs start, oldest first"),
    });
  }

  /** The app, created if missing; a failure is retried on the next call. */
  app(): Promise<App> {
    const { appName, environment } = this.options;
    return this.#app.get(appName, () => this.#call(() => this.client.apps.fromName(appName, { environment, createIfMissing: true })));
  }

  /**
   * The profile's image, built once (Modal caches builds by content, so a restart
   * reuses it). A build that failed is not retried for a while: jobs of that
   * profile fail fast with the build's error meanwhile.
   */
  image(profile: RunnerProfile): Promise<Image> {
    const key = JSON.stringify(profile.image);
    const known = this.#images.get(key);
    const retryAfter = this.options.imageRetryMs ?? 60_000;
    if (known && (known.failedAt === undefined || this.#now() - known.failedAt < retryAfter)) return known.value;
    const resolution: Resolution<Image> = { value: this.#build(profile.image) };
    resolution.value.then(
      (image) => this.log.info({ profile: profile.name, image: profile.image.baseImage, imageId: image.imageId }, "runner image ready"),
      (error: unknown) => {
        const fields = { profile: profile.name, image: profile.image.baseImage, reason: describeFailure(error).reason };
        if (isTransientModalError(error) || error instanceof CircuitOpenError) {
          // Modal was unreachable: nothing was built; the next job tries again.
          this.#images.delete(key);
          this.log.warn(fields, "runner image not resolved yet (Modal unreachable); will try again with the next job");
          return;
        }
        resolution.failedAt = this.#now();
        this.log.error(fields, "runner image failed to build; jobs of this profile cannot start until it builds");
      },
    );
    this.#images.set(key, resolution);
    return resolution.value;
  }

  async #build(wanted: RunnerImageDefinition): Promise<Image> {
    const app = await this.app();
    const definition = this.options.extendImage ? await this.options.extendImage(wanted) : wanted;
    return this.#call(() => this.client.images.fromRegistry(definition.baseImage).dockerfileCommands(definition.commands).build(app));
  }

  #secret(name: string): Promise<Secret> {
    return this.#secrets.get(name, () => this.#call(() => this.client.secrets.fromName(name, { environment: this.options.environment })));
  }

  /** Resolves the app and every profile's image at start-up; failures are logged, not thrown. */
  async prepare(profiles: RunnerProfile[]): Promise<void> {
    await Promise.allSettled(profiles.map((profile) => this.image(profile)));
  }

  /**
   * Creates the sandbox; "exists" when a running sandbox already has this name. Only
   * this goes through the breaker (CircuitOpenError while it is open and this is not
   * the probe); the steps before the create RPC count against it when they fail.
   */
  async create(spec: SandboxSpec): Promise<{ kind: "created"; sandboxId: string } | { kind: "exists" }> {
    const { profile } = spec;
    this.breaker.check();
    let resolved: [App, Image, Secret[]];
    try {
      resolved = await Promise.all([this.app(), this.image(profile), Promise.all(profile.secrets.map((name) => this.#secret(name)))]);
    } catch (error) {
      this.breaker.judge(error);
      throw error;
    }
    const [app, image, secrets] = resolved;
    const params: SandboxCreateParams = {
      name: spec.name,
      command: spec.command,
      env: {
        ...profile.env,
        ...this.options.sandboxEnv?.(profile),
        ...(profile.docker && { [DOCKER_ENV]: profile.docker }),
        ...spec.env,
      },
      ...runtimeParams(profile),
      secrets,
      tags: spec.tags,
      cpu: profile.cpu,
      memoryMiB: profile.memoryMiB,
      gpu: profile.gpu,
      // Modal takes whole seconds.
      timeoutMs: Math.ceil(profile.timeoutMs / 1000) * 1000,
      ...(profile.regions.length > 0 && { regions: profile.regions }),
      ...(profile.network.egress === "none" && { blockNetwork: true }),
      ...(profile.network.egress === "allowlist" && {
        outboundCidrAllowlist: profile.network.cidrs,
        outboundDomainAllowlist: profile.network.domains,
      }),
    };
    try {
      // Each attempt through the breaker: once it opens, retries stop (CircuitOpenError is not transient).
      const sandbox = await withModalRetry(
        () =>
          this.breaker.run(() => {
            this.#calls++;
            return this.client.sandboxes.create(app, image, params);
          }),
        this.#retry,
      );
      return { kind: "created", sandboxId: sandbox.sandboxId };
    } catch (error) {
      if (error instanceof AlreadyExistsError) return { kind: "exists" };
      throw error;
    }
  }

  /** The running sandbox of this name, if any. */
  async findByName(name: string): Promise<Sandbox | undefined> {
    try {
      return await this.#call(() => this.client.sandboxes.fromName(this.options.appName, name, { environment: this.options.environment }));
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  async terminate(sandbox: Sandbox | string): Promise<void> {
    const handle = typeof sandbox === "string" ? await this.#call(() => this.client.sandboxes.fromId(sandbox)) : sandbox;
    await this.#call(() => handle.terminate());
  }

  async getTags(sandboxId: string): Promise<Record<string, string>> {
    const handle = await this.#call(() => this.client.sandboxes.fromId(sandboxId));
    return this.#call(() => handle.getTags());
  }

  /** Replaces the sandbox's tags (Modal has no partial update). */
  async setTags(sandboxId: string, tags: Record<string, string>): Promise<void> {
    const handle = await this.#call(() => this.client.sandboxes.fromId(sandboxId));
    await this.#call(() => handle.setTags(tags));
  }

  /**
   * Every running sandbox of ours with its name, age and tags, in one call per 100
   * sandboxes. The SDK's `sandboxes.list` yields bare handles and would need one
   * more call per sandbox for its tags, so this pages the control plane's list
   * call through the SDK's own client, the way `sandboxes.list` does.
   */
  async listRunnerSandboxes(): Promise<ListedSandbox[]> {
    const app = await this.app();
    const listed: ListedSandbox[] = [];
    const cp = this.client.cpClient;
    let beforeTimestamp: number | undefined;
    for (;;) {
      const request = {
        appId: app.appId,
        beforeTimestamp,
        includeFinished: false,
        tags: [{ tagName: "managed_by", tagValue: MANAGED_BY }],
      };
      const page = await this.#call(() => (this.client.profile.sandboxV2 ? cp.sandboxListV2(request) : cp.sandboxList(request as never)));
      if (page.sandboxes.length === 0) return listed;
      for (const info of page.sandboxes) {
        listed.push({
          sandboxId: info.id,
          name: info.name,
          createdAt: Math.round(info.createdAt * 1000),
          tags: Object.fromEntries(info.tags.map((tag) => [tag.tagName, tag.tagValue])),
        });
      }
      beforeTimestamp = page.sandboxes[page.sandboxes.length - 1]!.createdAt;
    }
  }

  /** Modal calls made so far (each retry counts), for the reconciler's report. */
  get calls(): number {
    return this.#calls;
  }

  /** Any call but the create: retried, never held back by the creation breaker, never closing it. */
  #call<T>(call: () => Promise<T>): Promise<T> {
    return withModalRetry(() => {
      this.#calls++;
      return call();
    }, this.#retry);
  }
}
