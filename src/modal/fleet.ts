// The Modal side: one app and one runner image, resolved once and reused for every
// sandbox, and the few sandbox operations the App needs. Every call retries
// transient control-plane failures.
import { AlreadyExistsError, NotFoundError, type App, type Image, type ModalClient, type Sandbox } from "modal";
import { MANAGED_BY } from "./sandbox-tags.js";
import type { Logger } from "pino";
import type { RunnerImageDefinition } from "./parse-dockerfile.js";
import { DEFAULT_MODAL_RETRY, withModalRetry, type RetryOptions } from "./with-modal-retry.js";

export interface SandboxSpec {
  name: string;
  command: string[];
  /** Only the sandbox sees these; they are never logged. */
  env: Record<string, string>;
  tags: Record<string, string>;
  cpu: number;
  memoryMiB: number;
  timeoutMs: number;
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
  image: RunnerImageDefinition;
  retry?: RetryOptions;
}

export class Fleet {
  #resolved: Promise<{ app: App; image: Image }> | undefined;
  readonly #retry: RetryOptions;
  #calls = 0;

  constructor(
    private readonly client: ModalClient,
    private readonly options: FleetOptions,
    private readonly log: Logger,
  ) {
    this.#retry = {
      ...(options.retry ?? DEFAULT_MODAL_RETRY),
      onRetry: (error, attempt, delayMs) =>
        log.warn({ attempt, delayMs, reason: (error as Error).message }, "Modal call failed; retrying"),
    };
  }

  /** The app (created if missing) and the built runner image; a failure is retried on the next call. */
  resolve(): Promise<{ app: App; image: Image }> {
    this.#resolved ??= this.#resolveOnce().catch((error: unknown) => {
      this.#resolved = undefined;
      throw error;
    });
    return this.#resolved;
  }

  async #resolveOnce(): Promise<{ app: App; image: Image }> {
    const { appName, environment, image: definition } = this.options;
    const app = await this.#call(() => this.client.apps.fromName(appName, { environment, createIfMissing: true }));
    const image = await this.#call(() =>
      this.client.images.fromRegistry(definition.baseImage).dockerfileCommands(definition.commands).build(app),
    );
    this.log.info({ app: appName, appId: app.appId, image: definition.baseImage, imageId: image.imageId }, "Modal app and runner image ready");
    return { app, image };
  }

  /** Creates the sandbox; "exists" when a running sandbox already has this name. */
  async create(spec: SandboxSpec): Promise<{ kind: "created"; sandboxId: string } | { kind: "exists" }> {
    const { app, image } = await this.resolve();
    try {
      const sandbox = await this.#call(() =>
        this.client.sandboxes.create(app, image, {
          name: spec.name,
          command: spec.command,
          env: spec.env,
          tags: spec.tags,
          cpu: spec.cpu,
          memoryMiB: spec.memoryMiB,
          // Modal takes whole seconds.
          timeoutMs: Math.ceil(spec.timeoutMs / 1000) * 1000,
        }),
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
      return await this.#call(() =>
        this.client.sandboxes.fromName(this.options.appName, name, { environment: this.options.environment }),
      );
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  async terminate(sandbox: Sandbox | string): Promise<void> {
    const handle = typeof sandbox === "string" ? await this.client.sandboxes.fromId(sandbox) : sandbox;
    await this.#call(() => handle.terminate());
  }

  async getTags(sandboxId: string): Promise<Record<string, string>> {
    const handle = await this.client.sandboxes.fromId(sandboxId);
    return this.#call(() => handle.getTags());
  }

  /** Replaces the sandbox's tags (Modal has no partial update). */
  async setTags(sandboxId: string, tags: Record<string, string>): Promise<void> {
    const handle = await this.client.sandboxes.fromId(sandboxId);
    await this.#call(() => handle.setTags(tags));
  }

  /**
   * Every running sandbox of ours with its name, age and tags, in one call per 100
   * sandboxes. The SDK's `sandboxes.list` yields bare handles and would need one
   * more call per sandbox for its tags, so this pages the control plane's list
   * call through the SDK's own client, the way `sandboxes.list` does.
   */
  async listRunnerSandboxes(): Promise<ListedSandbox[]> {
    const { app } = await this.resolve();
    const listed: ListedSandbox[] = [];
    const cp = this.client.cpClient;
    let beforeTimestamp: number | undefined;
    for (;;) {
      const request = { appId: app.appId, beforeTimestamp, includeFinished: false, tags: [{ tagName: "managed_by", tagValue: MANAGED_BY }] };
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

  #call<T>(call: () => Promise<T>): Promise<T> {
    return withModalRetry(() => {
      this.#calls++;
      return call();
    }, this.#retry);
  }
}
