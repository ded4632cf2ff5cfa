// GitHub's secondary rate limits, enforced by the fake when a test or benchmark turns
// them on: per installation (or the App's JWT) at most 900 points in any sliding
// minute (a write costs 5, a read 1) and 100 requests in flight; beyond that, a 403
// with retry-after and the message GitHub sends. Off by default.
import type http from "node:http";

export interface SecondaryLimitOptions {
  pointsPerWindow: number;
  windowMs: number;
  maxConcurrent: number;
  writeCost: number;
  readCost: number;
}

export const GITHUB_SECONDARY_LIMIT_OPTIONS: SecondaryLimitOptions = {
  pointsPerWindow: 900,
  windowMs: 60_000,
  maxConcurrent: 100,
  writeCost: 5,
  readCost: 1,
};

export const SECONDARY_RATE_LIMIT_MESSAGE =
  "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.";
const DOCS = "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits";

interface KeyState {
  spent: Array<{ at: number; cost: number }>;
  points: number;
  inFlight: number;
}

export interface LimitedReply {
  status: number;
  body: Record<string, unknown>;
  headers: Record<string, string>;
}

export class SecondaryLimits {
  private options: SecondaryLimitOptions | undefined;
  private readonly keys = new Map<string, KeyState>();
  /** 403s answered, by "METHOD /route/template" */
  readonly limitedByRoute = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  enable(options: Partial<SecondaryLimitOptions> = {}): void {
    this.options = { ...GITHUB_SECONDARY_LIMIT_OPTIONS, ...options };
  }

  disable(): void {
    this.options = undefined;
  }

  get enabled(): boolean {
    return this.options !== undefined;
  }

  /** 403s answered in all. */
  limitedCount(): number {
    let n = 0;
    for (const c of this.limitedByRoute.values()) n += c;
    return n;
  }

  /**
   * Counts one request against `key`'s limits. Returns the 403 to answer when it is
   * over; otherwise undefined, and its concurrency slot is freed when `res` closes.
   */
  admit(key: string, method: string, route: string, res: http.ServerResponse): LimitedReply | undefined {
    const o = this.options;
    if (!o) return undefined;
    let s = this.keys.get(key);
    if (!s) this.keys.set(key, (s = { spent: [], points: 0, inFlight: 0 }));
    const now = this.now();
    while (s.spent.length > 0 && s.spent[0]!.at <= now - o.windowMs) s.points -= s.spent.shift()!.cost;
    const cost = method === "GET" || method === "HEAD" ? o.readCost : o.writeCost;
    let retryAfterMs: number | undefined;
    if (s.inFlight >= o.maxConcurrent) retryAfterMs = 1000;
    else if (s.points + cost > o.pointsPerWindow) retryAfterMs = this.msUntilFree(s, o, cost, now);
    if (retryAfterMs !== undefined) {
      const name = `${method} ${route}`;
      this.limitedByRoute.set(name, (this.limitedByRoute.get(name) ?? 0) + 1);
      return {
        status: 403,
        body: { message: SECONDARY_RATE_LIMIT_MESSAGE, documentation_url: DOCS, status: "403" },
        headers: { "retry-after": String(Math.max(1, Math.ceil(retryAfterMs / 1000))) },
      };
    }
    s.spent.push({ at: now, cost });
    s.points += cost;
    s.inFlight++;
    const state = s;
    // "finish" (the answer is handed to the socket) comes before the client can see it;
    // "close" covers a client that went away first.
    let done = false;
    const free = (): void => {
      if (!done) state.inFlight--;
      done = true;
    };
    res.once("finish", free);
    res.once("close", free);
    return undefined;
  }

  private msUntilFree(s: KeyState, o: SecondaryLimitOptions, cost: number, now: number): number {
    let points = s.points;
    for (const spend of s.spent) {
      points -= spend.cost;
      if (points + cost <= o.pointsPerWindow) return spend.at + o.windowMs - now;
    }
    return o.windowMs;
  }
}
