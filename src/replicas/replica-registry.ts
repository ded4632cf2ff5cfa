// Who is in the fleet: each replica publishes its view (what it is doing, when it last
// passed, what it spends) under its name with a time-to-live, and reads everyone's.
// A replica that stops publishing (killed, partitioned) drops out after the TTL.
// The fleet's size, last seen, is what the degraded mode divides budgets by: it is
// kept when Redis goes away (the last known size is the best guess there is).
import type { RedisLink } from "./redis-link.js";

export interface ReplicaView {
  replica: string;
  /** Epoch ms when it published this. */
  at: number;
  startedAt: number;
  /** "ok", or why it is degraded. */
  health: string;
  jobs: { waiting: number; dispatching: number };
  lastPass: { at: number; ok: boolean; full: boolean } | undefined;
  /** Budget points spent (capacity minus headroom), by installation, as this replica last saw them. */
  budget: Array<{ installation: string; points: number; capacity: number; inFlight: number }>;
}

export class ReplicaRegistry {
  #known: ReplicaView[] = [];
  readonly #hash: string;

  constructor(
    private readonly link: RedisLink,
    readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.#hash = link.key("replicas");
  }

  /** Publishes this replica's view and reads the fleet's (two round trips); stale replicas are dropped. */
  async publish(view: ReplicaView): Promise<ReplicaView[]> {
    const client = this.link.client;
    const [, all] = await Promise.all([client.hset(this.#hash, view.replica, JSON.stringify(view)), client.hgetall(this.#hash)]);
    const now = this.now();
    const live: ReplicaView[] = [];
    const stale: string[] = [];
    for (const [name, raw] of Object.entries(all)) {
      const parsed = parseView(raw);
      if (parsed && now - parsed.at <= this.ttlMs) live.push(parsed);
      else stale.push(name);
    }
    if (stale.length > 0) await client.hdel(this.#hash, ...stale);
    this.#known = live.sort((a, b) => a.replica.localeCompare(b.replica));
    return this.#known;
  }

  /** Leaves the fleet (a clean shutdown): the others stop counting this replica at once. */
  async leave(): Promise<void> {
    if (this.link.available) await this.link.client.hdel(this.#hash, this.link.replica).catch(() => undefined);
  }

  /** The fleet as last read (this replica included once it has published). */
  known(): ReplicaView[] {
    return this.#known;
  }

  /** Replicas in the fleet as last seen, at least 1. */
  size(): number {
    return Math.max(1, this.#known.length);
  }
}

function parseView(raw: string): ReplicaView | undefined {
  try {
    const value = JSON.parse(raw) as ReplicaView;
    return typeof value.replica === "string" && typeof value.at === "number" ? value : undefined;
  } catch {
    return undefined;
  }
}
