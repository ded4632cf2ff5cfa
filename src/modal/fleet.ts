// The Modal side: one app and one runner image, resolved once and reused for every
// sandbox, and the few sandbox operations the App needs. Every call retries
// transient control-plane failures.
import { AlreadyExistsError, NotFoundError, type App, type Image, type ModalClient, type Sandbox } from "modal";
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

export interface FleetOptions {
  appName: string;
  environment: string | undefined;
  image: RunnerImageDefinition;
  retry?: RetryOptions;
}

export class Fleet {
  #resolved: Promise<{ app: App; image: Image }> | undefined;
  readonly #retry: RetryOptions;

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

  async terminate(sandbox: Sandbox): Promise<void> {
    await this.#call(() => sandbox.terminate());
  }

  #call<T>(call: () => Promise<T>): Promise<T> {
    return withModalRetry(call, this.#retry);
  }
}
