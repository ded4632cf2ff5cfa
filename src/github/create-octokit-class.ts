// Probot's Octokit, tuned for this App:
// - 409 is never retried: for generate-jitconfig it means "a runner of that name
//   exists", and a blind late retry could register a second runner for a job.
// - Writes are paced per installation near GitHub's secondary limit (a POST costs
//   5 of 900 points a minute) instead of Probot's one-write-per-second for the whole
//   process, so a 256-job matrix does not wait minutes for its last runner.
// - GETs are conditional (ETag): unchanged answers cost no rate limit.
// - Primary and secondary rate limits are waited out a few times, then left to the
//   reconciler, never dropped silently (Probot's default does not retry secondary limits).
import Bottleneck from "bottleneck";
import type { Logger } from "pino";
import { ProbotOctokit } from "probot";
import { conditionalRequests } from "./conditional-requests.js";

export interface OctokitTuning {
  /** Writes one installation may start per minute. */
  writesPerMinute: number;
  /** Writes one installation may have in flight. */
  writeConcurrency: number;
  /** Multiplier of plugin-retry's backoff (ms); tests make it small. */
  retryBaseMs: number;
  /** Multiplier of retry-after (ms); tests make it small. */
  rateLimitBaseMs: number;
  /** Longest rate-limit wait worth sitting through, in seconds. */
  maxRateLimitWaitSeconds: number;
}

export const DEFAULT_OCTOKIT_TUNING: OctokitTuning = {
  writesPerMinute: 150,
  writeConcurrency: 10,
  retryBaseMs: 1000,
  rateLimitBaseMs: 1000,
  maxRateLimitWaitSeconds: 120,
};

const DO_NOT_RETRY = [400, 401, 403, 404, 409, 410, 422, 451];
const MAX_RATE_LIMIT_RETRIES = 3;

export type AppOctokit = InstanceType<typeof ProbotOctokit>;

export function createOctokitClass(tuning: OctokitTuning = DEFAULT_OCTOKIT_TUNING): typeof ProbotOctokit {
  // One limiter per installation (plugin-throttling keys it by installation id).
  const writes = new Bottleneck.Group({
    maxConcurrent: tuning.writeConcurrency,
    reservoir: tuning.writesPerMinute,
    reservoirRefreshAmount: tuning.writesPerMinute,
    reservoirRefreshInterval: 60_000,
  });
  const waitOrGiveUp = (retryAfter: number, retryCount: number) =>
    retryCount < MAX_RATE_LIMIT_RETRIES && retryAfter <= tuning.maxRateLimitWaitSeconds;

  return ProbotOctokit.plugin(conditionalRequests).defaults((options: Record<string, any>) => ({
    ...options,
    retry: { ...options.retry, doNotRetry: DO_NOT_RETRY, retryAfterBaseValue: tuning.retryBaseMs },
    throttle: {
      ...options.throttle,
      write: writes,
      retryAfterBaseValue: tuning.rateLimitBaseMs,
      onRateLimit: (retryAfter: number, request: { method: string; url: string }, octokit: AppOctokit, retryCount: number) => {
        const retry = waitOrGiveUp(retryAfter, retryCount);
        (octokit.log as unknown as Logger).warn({ method: request.method, url: request.url, retryAfter, retry }, "GitHub rate limit reached");
        return retry;
      },
      onSecondaryRateLimit: (retryAfter: number, request: { method: string; url: string }, octokit: AppOctokit, retryCount: number) => {
        const retry = waitOrGiveUp(retryAfter, retryCount);
        (octokit.log as unknown as Logger).warn({ method: request.method, url: request.url, retryAfter, retry }, "GitHub secondary rate limit reached");
        return retry;
      },
    },
  })) as typeof ProbotOctokit;
}
