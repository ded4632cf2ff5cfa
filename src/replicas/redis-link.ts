// The connection of one replica to the fleet's Redis (REDIS_URL), and whether it is up.
//
// Redis here is a cache of coordination, never the truth: when it is unreachable a
// command must fail at once (no offline queue, one short timeout) so that the caller
// falls back to its conservative local mode instead of waiting; ioredis keeps
// reconnecting in the background, and `onReturn` listeners rebuild what Redis lost.
import { createRequire } from "node:module";
import { hostname } from "node:os";
import type * as IORedis from "ioredis";
import type { Redis } from "ioredis";
import type { Logger } from "pino";

/**
 * ioredis, loaded when the first link is made: only the replicas of a fleet (REDIS_URL)
 * use it, and a single process spares the 6 MiB it keeps resident once loaded.
 */
const loadRedis = (): typeof IORedis.Redis => (createRequire(import.meta.url)("ioredis") as typeof IORedis).Redis;

/** What /health and the status page say while Redis cannot be reached. */
export const REDIS_DEGRADED = "degraded: Redis unreachable";

export interface RedisLinkOptions {
  /** This replica's name in the fleet (labels, the fleet view, claim holders). */
  replica?: string;
  /** Keys are prefixed with it, so that several Apps may share one Redis. */
  keyPrefix?: string;
  /** A command not answered within this fails (and the caller degrades); default 2 s. */
  commandTimeoutMs?: number;
}

/** A replica's default name: the host (a pod's name in Kubernetes) and the process. */
export function defaultReplicaName(): string {
  return `${hostname()}-${process.pid}`;
}

export class RedisLink {
  readonly client: Redis;
  readonly replica: string;
  readonly prefix: string;
  #up = false;
  #everUp = false;
  #closed = false;
  readonly #returnListeners: Array<() => void> = [];

  constructor(
    url: string,
    private readonly log: Logger,
    options: RedisLinkOptions = {},
  ) {
    this.replica = options.replica ?? defaultReplicaName();
    this.prefix = options.keyPrefix ?? "mgr:";
    this.client = new (loadRedis())(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs ?? 2000,
      connectTimeout: 2000,
      // Keep trying, never more than a second apart: Redis coming back ends the degraded mode.
      retryStrategy: (times) => Math.min(times * 100, 1000),
      lazyConnect: false,
    });
    this.client.on("ready", () => {
      const returning = this.#everUp;
      this.#up = true;
      this.#everUp = true;
      if (returning) {
        this.log.info({ replica: this.replica }, "Redis reachable again; rebuilding the shared state from GitHub and Modal");
        for (const listener of this.#returnListeners) listener();
      }
    });
    this.client.on("close", () => {
      if (this.#up && !this.#closed) this.log.warn({ replica: this.replica }, "Redis unreachable; serving on a conservative local share");
      this.#up = false;
    });
    // ioredis reports every failed reconnection; the state change is logged once above.
    this.client.on("error", () => undefined);
  }

  /** Resolves once connected (or rejects after `timeoutMs`): start-up waits for it so the first jobs are shared. */
  ready(timeoutMs = 5000): Promise<void> {
    if (this.#up) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.client.off("ready", onReady);
        reject(new Error("Redis did not answer"));
      }, timeoutMs);
      timer.unref();
      const onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      this.client.once("ready", onReady);
    });
  }

  get available(): boolean {
    return this.#up;
  }

  /** The degraded-mode sentence, or undefined while Redis answers. */
  degraded(): string | undefined {
    return this.#up ? undefined : REDIS_DEGRADED;
  }

  /** Called each time Redis is reachable again after an outage (it may have lost everything). */
  onReturn(listener: () => void): void {
    this.#returnListeners.push(listener);
  }

  key(...parts: Array<string | number>): string {
    return this.prefix + parts.join(":");
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#up = false;
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}
