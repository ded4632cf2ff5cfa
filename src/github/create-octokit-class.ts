// Probot's Octokit, tuned for this App:
// - Every request waits for its installation's request budget: a smooth token bucket
//   at GitHub's secondary-limit ceiling (900 points a minute, a write costs 5, 100 in
//   flight), with dispatch ("foreground") ahead of reconcile reads ("background"), see
//   installation-budget.ts. Probot's default paces every write one second apart for
//   the whole process; a 256-job matrix would wait minutes for its last runner.
// - Rate-limit answers pause the installation's bucket and are retried through it;
//   5xx are retried with backoff; 409 is never retried (budget-requests.ts). Probot's
//   plugin-throttling and plugin-retry are off, so nothing paces or retries twice.
// - GETs are conditional (ETag): unchanged answers cost no rate limit.
import { ProbotOctokit } from "probot";
import { budgetRequests, type RetryTuning } from "./budget-requests.js";
import { conditionalRequests } from "./conditional-requests.js";
import { RequestBudgets } from "./request-budgets.js";

export interface OctokitTuning extends RetryTuning {}

export const DEFAULT_OCTOKIT_TUNING: OctokitTuning = {
  retryBaseMs: 1000,
  rateLimitBaseMs: 1000,
  maxRateLimitWaitSeconds: 120,
  maxRetries: 3,
};

export type AppOctokit = InstanceType<typeof ProbotOctokit>;

/**
 * `budgets` is shared by every instance of the class (one bucket per installation);
 * pass your own to read its headroom for a status page or a metrics gauge.
 */
export function createOctokitClass(
  tuning: OctokitTuning = DEFAULT_OCTOKIT_TUNING,
  budgets: RequestBudgets = new RequestBudgets(),
): typeof ProbotOctokit {
  // Order matters: the last plugin wraps the others. Conditional requests answer from
  // their cache outside the budget; the budget sees GitHub's real answers and headers.
  return ProbotOctokit.plugin(budgetRequests(budgets, tuning), conditionalRequests).defaults((options: Record<string, any>) => ({
    ...options,
    retry: { ...options.retry, enabled: false },
    throttle: { ...options.throttle, enabled: false },
  })) as typeof ProbotOctokit;
}
