// Probot's Octokit, tuned for this App:
// - Every request waits for its installation's request budget: a smooth token bucket
//   at GitHub's secondary-limit ceiling (900 points a minute, a write costs 5, 100 in
//   flight), with dispatch ("foreground") ahead of reconcile reads ("background"), see
//   installation-budget.ts. Probot's default paces every write one second apart for
//   the whole process; a 256-job matrix would wait minutes for its last runner.
// - Rate-limit answers pause the installation's bucket and are retried through it
//   (budget-requests.ts). Probot's plugin-throttling is off, so nothing paces twice.
// - @octokit/plugin-retry retries 5xx and network failures with backoff. Probot's own
//   copy is switched off and ours is plugged in inside the budget: a request takes its
//   budget slot first (in call order, so priorities hold), and every retry is charged to
//   the installation's budget (budget-requests.ts). Never retried: 400, 401, 403 (a rate limit is the
//   budget's to wait out), 404, 409 (a late retry of a JIT registration could register
//   a second runner), 410, 422, 429 (the budget's) and 451.
// - GETs are conditional (ETag): unchanged answers cost no rate limit.
// - Probot's auth strategy, with each installation's delivery client kept instead of
//   built for every delivery (keep-event-octokits.ts).
import { retry } from "@octokit/plugin-retry";
import type { Octokit } from "@octokit/core";
import { createProbotAuth } from "octokit-auth-probot";
import { ProbotOctokit } from "probot";
import { budgetRequests, type RetryTuning } from "./budget-requests.js";
import { conditionalRequests } from "./conditional-requests.js";
import { keepEventOctokits } from "./keep-event-octokits.js";
import { RequestBudgets } from "./request-budgets.js";

export interface OctokitTuning extends RetryTuning {}

export const DEFAULT_OCTOKIT_TUNING: OctokitTuning = {
  retryBaseMs: 1000,
  rateLimitBaseMs: 1000,
  maxRateLimitWaitSeconds: 120,
  maxRetries: 3,
};

/** Statuses plugin-retry never retries. */
export const DO_NOT_RETRY = Object.freeze([400, 401, 403, 404, 409, 410, 422, 429, 451]);

export type AppOctokit = InstanceType<typeof ProbotOctokit>;

/**
 * `budgets` is shared by every instance of the class (one bucket per installation);
 * pass your own to read its headroom for a status page or a metrics gauge.
 */
export function createOctokitClass(
  tuning: OctokitTuning = DEFAULT_OCTOKIT_TUNING,
  budgets: RequestBudgets = new RequestBudgets(),
): typeof ProbotOctokit {
  // plugin-retry reads its options from `retry`, which Probot's disabled copy reads too:
  // ours reads them from `budgetedRetry` instead.
  const budgetedRetry = (octokit: Octokit, options: Record<string, any>) =>
    retry(octokit, {
      ...options,
      retry: { enabled: true, retries: tuning.maxRetries, retryAfterBaseValue: tuning.retryBaseMs, doNotRetry: [...DO_NOT_RETRY] },
    });
  // Order matters: the last plugin wraps the others. Conditional requests answer from
  // their cache outside the budget; the budget grants a slot before plugin-retry's
  // scheduler (which hands a request on a timer later) and charges its retries.
  const authStrategy = keepEventOctokits(createProbotAuth);
  return ProbotOctokit.plugin(budgetedRetry, budgetRequests(budgets, tuning), conditionalRequests).defaults(
    (options: Record<string, any>) => ({
      ...options,
      // Probot's own strategy (ProbotOctokit's default) unless a client is built with another.
      authStrategy: options.authStrategy ?? authStrategy,
      retry: { ...options.retry, enabled: false },
      throttle: { ...options.throttle, enabled: false },
    }),
  ) as typeof ProbotOctokit;
}
