// An Octokit plugin that makes every request, and every retry of it, wait for its
// installation's request budget (see installation-budget.ts), and that does what
// GitHub's rate-limit answers ask:
// - `retry-after` on a 403/429, or a secondary-limit 403 without it: pause the
//   installation's bucket that long (not just this request: the others would get
//   the same answer), then retry this request through the bucket;
// - `x-ratelimit-remaining: 0`: pause the installation until `x-ratelimit-reset`;
// - anything else is left to @octokit/plugin-retry, which runs inside this plugin's
//   grant (see create-octokit-class.ts): it retries 5xx and network failures, and each
//   retry is charged to the bucket; it never retries a 409 (for generate-jitconfig a 409
//   means "a runner of that name exists": a blind late retry could register a second).
//   The grant comes first, synchronously with the call, so a dispatch write issued
//   after a burst of reconcile reads still goes ahead of them.
// It replaces plugin-throttling (disabled), so nothing paces twice.
//
// Priority: a request is "foreground" unless its options say
// `request: { priority: "background" }`, or carry the header PRIORITY_HEADER (what
// octokit.paginate keeps from page to page: it drops `request`; the header is removed
// before the request leaves), or the Octokit was built with
// `new Octokit({ requestPriority: "background" })`.
import type { Octokit } from "@octokit/core";
import type { Logger } from "pino";
import type { Budget, RequestPriority } from "./installation-budget.js";
import type { RequestBudgets } from "./request-budgets.js";

export interface RetryTuning {
  /** Multiplier of plugin-retry's 5xx backoff (ms; n-th retry waits n² of it); tests make it small. */
  retryBaseMs: number;
  /** Milliseconds per second of retry-after; tests make it small. */
  rateLimitBaseMs: number;
  /** Longest rate-limit wait worth sitting through, in seconds; beyond it the request fails (the reconciler retries later). */
  maxRateLimitWaitSeconds: number;
  /** Retries of one request after a rate limit (here) or a 5xx (plugin-retry). */
  maxRetries: number;
}

/** Header that marks a request's priority through octokit.paginate; never sent to GitHub. */
export const PRIORITY_HEADER = "x-request-priority";
/** Parameters that make a request (or every page of octokit.paginate) a background one. */
export const BACKGROUND = Object.freeze({ request: { priority: "background" }, headers: { [PRIORITY_HEADER]: "background" } });

const APP_ROUTE = /^\/app(\/|$)/;
const WRITE_COST = 5;
const READ_COST = 1;
/** GitHub: "if no retry-after header, wait at least one minute" for secondary limits. */
const SECONDARY_DEFAULT_WAIT_SECONDS = 60;

/** A request refused locally because its installation must wait longer than is worth waiting. */
export class RateLimitedError extends Error {
  override name = "RateLimitedError";
  readonly status = 403;
  constructor(
    message: string,
    readonly request: { method: string; url: string },
  ) {
    super(message);
  }
}

interface ErrorLike {
  status?: number;
  message?: string;
  response?: { headers?: Record<string, string | undefined> };
}

/** How long GitHub asked us to wait, in ms, when `error` is a rate-limit answer. */
export function rateLimitWaitMs(error: unknown, now: number, rateLimitBaseMs: number): number | undefined {
  const e = (typeof error === "object" && error !== null ? error : {}) as ErrorLike;
  if (e.status !== 403 && e.status !== 429) return undefined;
  const headers = e.response?.headers ?? {};
  const retryAfter = Number(headers["retry-after"]);
  if (headers["retry-after"] !== undefined && Number.isFinite(retryAfter)) return Math.max(0, retryAfter) * rateLimitBaseMs;
  if (headers["x-ratelimit-remaining"] === "0" && headers["x-ratelimit-reset"] !== undefined) {
    return Math.max(0, Number(headers["x-ratelimit-reset"]) * 1000 - now);
  }
  if (e.status === 429 || /secondary rate limit|abuse/i.test(e.message ?? "")) return SECONDARY_DEFAULT_WAIT_SECONDS * rateLimitBaseMs;
  return undefined; // a 403 for a permission: not ours to wait out
}

/** How many times plugin-retry has retried this request (it counts on the options it is handed). */
function retryCount(options: { request?: unknown }): number {
  return Number((options.request as { retryCount?: number } | undefined)?.retryCount ?? 0);
}

export function budgetRequests(budgets: RequestBudgets, tuning: RetryTuning) {
  return function budgetRequestsPlugin(
    octokit: Octokit,
    options: { auth?: { installationId?: number | string }; requestPriority?: RequestPriority },
  ) {
    const installationId = Number(options.auth?.installationId);
    const installationBudget = budgets.of(Number.isFinite(installationId) ? installationId : "app");
    const appBudget = budgets.of("app");
    const instancePriority: RequestPriority = options.requestPriority ?? "foreground";
    const log = octokit.log as unknown as Logger;

    octokit.hook.wrap("request", async (request, requestOptions) => {
      const method = String(requestOptions.method ?? "GET").toUpperCase();
      const cost = method === "GET" || method === "HEAD" ? READ_COST : WRITE_COST;
      const headers = requestOptions.headers as Record<string, string | undefined>;
      const asked = (requestOptions.request as { priority?: RequestPriority } | undefined)?.priority ?? headers[PRIORITY_HEADER];
      if (headers[PRIORITY_HEADER] !== undefined) {
        // A copy: octokit.paginate hands the same headers object to every page.
        const { [PRIORITY_HEADER]: _marker, ...sent } = headers;
        requestOptions.headers = sent as typeof requestOptions.headers;
      }
      const priority: RequestPriority = asked === "background" || asked === "foreground" ? asked : instancePriority;
      const where = { method, url: String(requestOptions.url) };
      // /app routes (installation tokens among them) go out with the App's JWT and count
      // against the App, not the installation. It matters beyond accounting: the token is
      // minted from inside an installation request that already holds a slot, so taking a
      // second installation slot for it could wait forever.
      const budget = APP_ROUTE.test(where.url) ? appBudget : installationBudget;

      for (let attempt = 0; ; attempt++) {
        const pausedUntil = budget.headroom().pausedUntil;
        if (pausedUntil !== undefined && pausedUntil - budgets.clock.now() > tuning.maxRateLimitWaitSeconds * tuning.rateLimitBaseMs) {
          throw new RateLimitedError(`GitHub rate limit: this installation waits until ${new Date(pausedUntil).toISOString()}`, where);
        }
        const release = await budget.acquire(cost, priority);
        const retriedBefore = retryCount(requestOptions);
        try {
          const response = await request(requestOptions);
          pauseOnExhaustedLimit(budget, response.headers);
          return response;
        } catch (error) {
          pauseOnExhaustedLimit(budget, (error as ErrorLike).response?.headers);
          // One reading of the clock: a pause until x-ratelimit-reset must end at that reset, not a millisecond later.
          const now = budgets.clock.now();
          const waitMs = rateLimitWaitMs(error, now, tuning.rateLimitBaseMs);
          if (waitMs !== undefined) {
            budget.pause(now + waitMs);
            const retry = attempt < tuning.maxRetries && waitMs <= tuning.maxRateLimitWaitSeconds * tuning.rateLimitBaseMs;
            log.warn({ ...where, waitMs, retry }, "GitHub rate limit reached");
            if (!retry) throw error;
            continue; // acquire() waits for the pause to end
          }
          throw error; // plugin-retry decides, and its retry comes back through here
        } finally {
          // plugin-retry's retries happened inside this grant: each reached GitHub, each is paid for.
          budget.charge((retryCount(requestOptions) - retriedBefore) * cost);
          release();
        }
      }
    });

    function pauseOnExhaustedLimit(budget: Budget, headers: Record<string, string | number | undefined> | undefined): void {
      if (String(headers?.["x-ratelimit-remaining"]) !== "0") return;
      const reset = Number(headers?.["x-ratelimit-reset"]);
      if (Number.isFinite(reset)) budget.pause(reset * 1000);
    }
  };
}
