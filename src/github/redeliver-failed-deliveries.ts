// Webhook deliveries that failed while GitHub could not reach the App (ingress down,
// TLS error, a restart behind a load balancer) are not retried by GitHub on its own.
// GitHub keeps the App's delivery log, and asking it to redeliver is the documented
// way to recover them: at the App's JWT rate limit, with no new permission, and at a
// cost that depends on what failed, not on how many repositories exist.
//
// Each call lists the log newest first back to the last look (failures in full, then
// a few pages of successes to learn which GUIDs got through on a later attempt), and
// asks once for each failed workflow_job.queued GUID not yet asked for. Only queued
// deliveries matter: a lost in_progress or completed event is made good by the
// reconciler's own reading of runners and jobs, and asking for them would spend the
// App's rate limit for nothing. At most `maxRequests` redeliveries are asked for per
// call; the rest wait for the next call (the look-back does not move past them). A
// redelivery that fails again is asked for again later with exponential backoff, a
// bounded number of times; the state stays bounded in size.
import { describeFailure } from "../lib/errors.js";
import { BACKGROUND } from "./budget-requests.js";

export interface DeliveriesOctokit {
  request(
    route: string,
    parameters?: Record<string, unknown>,
  ): Promise<{ data: unknown; headers: Record<string, string | number | undefined> }>;
}

interface Asked {
  /** the delivery to ask again for (the latest failed attempt of the GUID) */
  deliveryId: number;
  attempts: number;
  askedAt: number;
  /** true once a redelivery (or the request for it) failed: then ask again at nextAt */
  failedAgain: boolean;
  nextAt: number;
}

export interface RedeliveryState {
  /** epoch ms of the last complete look; the next listing goes back to it (minus an overlap) */
  lastLookAt: number;
  /** GUIDs asked for and not yet seen delivered, oldest first */
  readonly asked: Map<string, Asked>;
}

/** At start-up, look back `lookbackMs` for the time the App was down (GitHub keeps three days). */
export function createRedeliveryState(now: number = Date.now(), lookbackMs = 60 * 60_000): RedeliveryState {
  return { lastLookAt: now - lookbackMs, asked: new Map() };
}

export interface RedeliveryOptions {
  now: () => number;
  /** Deliveries are listed back to the last look minus this (clocks differ, the log is written late). */
  overlapMs: number;
  /** Backoff before asking again for a GUID whose redelivery failed: base·2^(attempts-1)… */
  backoffBaseMs: number;
  /** …capped here. */
  backoffMaxMs: number;
  /** Requests per GUID, at most; then the reconciler's sweep is left to find the job. */
  maxAttempts: number;
  /** GUIDs kept in the state at most (oldest forgotten first). */
  maxTracked: number;
  /** Pages of successes read per call to learn which failed GUIDs got through later. */
  maxSuccessPages: number;
  perPage: number;
  /** Redeliveries asked for per call, at most (each is one POST at the App's rate limit). */
  maxRequests: number;
}

export const DEFAULT_REDELIVERY_OPTIONS: RedeliveryOptions = {
  now: () => Date.now(),
  overlapMs: 60_000,
  backoffBaseMs: 60_000,
  backoffMaxMs: 30 * 60_000,
  maxAttempts: 5,
  maxTracked: 1000,
  maxSuccessPages: 3,
  perPage: 100,
  maxRequests: 20,
};

export interface RedeliverySummary {
  /** deliveries read from the log */
  listed: number;
  /** redeliveries asked for */
  requested: number;
  /** failed workflow_job GUIDs not asked for (delivered later, already asked, backing off, given up) */
  skipped: number;
  /** requests for redelivery that GitHub refused (asked again later) */
  failed: number;
  /** why each failed request failed, for the caller's log */
  failures: string[];
}

interface Delivery {
  id: number;
  guid: string;
  delivered_at: string;
  redelivery: boolean;
  status_code: number;
  event: string;
  action?: string | null;
}

const EVENT = "workflow_job";
const ACTION = "queued";
const isQueuedJob = (d: Delivery) => d.event === EVENT && d.action === ACTION;

export async function redeliverFailedDeliveries(
  octokit: DeliveriesOctokit,
  state: RedeliveryState,
  options: Partial<RedeliveryOptions> = {},
): Promise<RedeliverySummary> {
  const o = { ...DEFAULT_REDELIVERY_OPTIONS, ...options };
  const startedAt = o.now();
  const horizon = state.lastLookAt - o.overlapMs;
  const summary: RedeliverySummary = { listed: 0, requested: 0, skipped: 0, failed: 0, failures: [] };

  const failures = await listBack(octokit, "failure", horizon, Infinity, o.perPage);
  // Successes matter only to tell whether a failed GUID got through later: with no
  // failure to look at, and none waiting for its redelivery, they are not read.
  const anyFailed = failures.some(isQueuedJob) || state.asked.size > 0;
  const successes = anyFailed ? await listBack(octokit, "success", horizon, o.maxSuccessPages, o.perPage) : [];
  summary.listed = failures.length + successes.length;
  const delivered = new Set(successes.filter((d) => d.event === EVENT).map((d) => d.guid));

  // Newest failed attempt of each GUID (the list is newest first).
  const latestFailure = new Map<string, Delivery>();
  for (const d of failures) if (isQueuedJob(d) && !latestFailure.has(d.guid)) latestFailure.set(d.guid, d);
  let deferred = false;

  for (const guid of delivered) state.asked.delete(guid);
  for (const [guid, d] of latestFailure) {
    const asked = state.asked.get(guid);
    if (delivered.has(guid)) summary.skipped++;
    else if (!asked) await ask(guid, d.id, 1);
    else {
      // Our redelivery was attempted and failed (GitHub's delivery ids grow; no clocks
      // compared): remember it, ask again after the backoff.
      if (d.redelivery && d.id > asked.deliveryId && !asked.failedAgain) {
        asked.failedAgain = true;
        asked.deliveryId = d.id;
        asked.nextAt = asked.askedAt + backoff(asked.attempts);
      }
      summary.skipped++;
    }
  }
  // GUIDs whose redelivery failed (seen in this look or an earlier one) and whose backoff is over.
  for (const [guid, asked] of [...state.asked]) {
    if (!asked.failedAgain || startedAt < asked.nextAt || asked.attempts >= o.maxAttempts || delivered.has(guid)) continue;
    if (latestFailure.has(guid)) summary.skipped--; // counted as skipped above, asked after all
    await ask(guid, asked.deliveryId, asked.attempts + 1);
  }

  // Failures left for the next call (the bound was reached) must stay within its look-back.
  if (!deferred) state.lastLookAt = startedAt;
  while (state.asked.size > o.maxTracked) state.asked.delete(state.asked.keys().next().value!);
  return summary;

  function backoff(attempts: number): number {
    return Math.min(o.backoffMaxMs, o.backoffBaseMs * 2 ** Math.max(0, attempts - 1));
  }

  async function ask(guid: string, deliveryId: number, attempts: number): Promise<void> {
    if (summary.requested + summary.failed >= o.maxRequests) {
      deferred = true;
      summary.skipped++;
      return;
    }
    const askedAt = o.now();
    state.asked.delete(guid); // re-insert: the map's order is its age
    try {
      await octokit.request("POST /app/hook/deliveries/{delivery_id}/attempts", { delivery_id: deliveryId });
      state.asked.set(guid, { deliveryId, attempts, askedAt, failedAgain: false, nextAt: Infinity });
      summary.requested++;
    } catch (error) {
      state.asked.set(guid, { deliveryId, attempts, askedAt, failedAgain: true, nextAt: askedAt + backoff(attempts) });
      summary.failed++;
      summary.failures.push(`delivery ${deliveryId}: ${describeFailure(error).reason}`);
    }
  }
}

/** Pages the delivery log newest first until a delivery older than `horizon` (or `maxPages`). */
async function listBack(
  octokit: DeliveriesOctokit,
  status: "failure" | "success",
  horizon: number,
  maxPages: number,
  perPage: number,
): Promise<Delivery[]> {
  const out: Delivery[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    const parameters: Record<string, unknown> = { per_page: perPage, status, ...BACKGROUND };
    if (cursor) parameters.cursor = cursor;
    const response = await octokit.request("GET /app/hook/deliveries", parameters);
    const items = response.data as Delivery[];
    for (const d of items) {
      if (Date.parse(d.delivered_at) < horizon) return out;
      out.push(d);
    }
    cursor = nextCursor(response.headers.link);
    if (!cursor) return out;
  }
  return out;
}

function nextCursor(link: string | number | undefined): string | undefined {
  const next = /<([^>]+)>;\s*rel="next"/.exec(String(link ?? ""));
  return next ? (new URL(next[1]!).searchParams.get("cursor") ?? undefined) : undefined;
}
