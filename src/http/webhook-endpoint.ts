// POST <WEBHOOK_PATH>: GitHub's deliveries, guarded before Probot sees them. In order,
// each step costing less than the next:
// 1. the event name (`x-github-event`): an event the App does not subscribe to is
//    acknowledged without its body being read;
// 2. the announced size, against the event's own cap (a workflow_job is small: see
//    WEBHOOK_BODY_LIMITS) and against the bytes of unverified bodies the process
//    holds at once (over it: 503 with retry-after; GitHub's redelivery and the
//    reconciler catch up);
// 3. the body, read up to the cap, then its signature, before anything is parsed.
// A refused delivery is answered with the reason and logged without its payload
// (Probot's own middleware would log a refused payload whole). A valid one goes to
// Probot (`receive`: `app.webhooks.receive`, so `app.on(...)` is where it enters),
// whose handlers only queue work, so the answer goes out at once (GitHub gives a
// delivery 10 s).
import type { IncomingMessage, ServerResponse } from "node:http";
import { verify } from "@octokit/webhooks-methods";
import type { Logger } from "pino";
import { BodyTooLarge, readBody, refuseTooLarge, refuseUnread } from "./read-body.js";
import { describeFailure } from "../lib/errors.js";
import { requestUrl } from "../lib/request-url.js";

/** GitHub caps webhook payloads at 25 MB. */
export const MAX_WEBHOOK_BYTES = 25 * 1024 * 1024;

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * The events the App subscribes to, and the largest body each may have. Measured on
 * GitHub's examples (@octokit/webhooks-examples 7.6.1, compact JSON): workflow_job at
 * most 11.4 KB, installation 4.9 KB, installation_repositories 3.8 KB, ping 6.8 KB.
 * A workflow_job grows with its labels (100 at most) and steps; 1 MiB is about 90
 * times the largest example. The installation events list repositories (an org's
 * whole list on `created`, about 150 bytes each): 8 MiB holds some 50,000.
 */
export const WEBHOOK_BODY_LIMITS: Readonly<Record<string, number>> = Object.freeze({
  workflow_job: 1 * MiB,
  installation: 8 * MiB,
  installation_repositories: 8 * MiB,
  ping: 64 * KiB,
});

/** Unverified body bytes held at once across every delivery in flight. */
export const MAX_UNVERIFIED_BYTES = 32 * MiB;

/** Seconds a delivery refused for lack of room is asked to wait. */
const RETRY_AFTER_SECONDS = 5;

const REQUIRED_HEADERS = ["x-github-event", "x-hub-signature-256", "x-github-delivery"] as const;

export interface VerifiedDelivery {
  id: string;
  name: string;
  payload: unknown;
}

export function webhookEndpoint(options: {
  path: string;
  secret: string;
  /** Hands a verified delivery to Probot; resolves when its handlers have queued their work. */
  receive: (delivery: VerifiedDelivery) => Promise<void>;
  log: Logger;
  /** Per event; events missing here are acknowledged unread. */
  limits?: Readonly<Record<string, number>>;
  maxUnverifiedBytes?: number;
}) {
  const { log } = options;
  const limits = options.limits ?? WEBHOOK_BODY_LIMITS;
  const maxUnverified = options.maxUnverifiedBytes ?? MAX_UNVERIFIED_BYTES;
  let unverifiedBytes = 0;

  const refuse = (res: ServerResponse, status: number, reason: string, fields: Record<string, unknown>): true => {
    log.warn({ ...fields, status, reason }, "webhook delivery refused");
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify({ error: reason }));
    return true;
  };

  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    if (requestUrl(req).pathname !== options.path) return false;
    if (req.method !== "POST") {
      res.writeHead(405, { allow: "POST" }).end();
      return true;
    }
    const missing = REQUIRED_HEADERS.filter((name) => !req.headers[name]);
    const id = String(req.headers["x-github-delivery"] ?? "");
    const name = String(req.headers["x-github-event"] ?? "");
    const fields = { deliveryId: id, event: name };
    if (missing.length > 0) {
      req.resume();
      return refuse(res, 400, `Required headers missing: ${missing.join(", ")}`, fields);
    }
    const limit = limits[name];
    if (limit === undefined) {
      // Answered 2xx as GitHub expects; nothing of it is read or acted on.
      log.debug(fields, "webhook event not subscribed: ignored unread");
      return refuseUnread(res, 202, "event ignored\n");
    }
    const announced = Number(req.headers["content-length"]);
    const reserved = Number.isFinite(announced) && announced >= 0 ? Math.min(announced, limit + 1) : limit;
    if (reserved <= limit && unverifiedBytes + reserved > maxUnverified) {
      log.warn({ ...fields, status: 503, reason: "too many unverified bytes in flight" }, "webhook delivery refused");
      return refuseUnread(res, 503, "busy: retry later\n", { "retry-after": String(RETRY_AFTER_SECONDS) });
    }
    unverifiedBytes += reserved;
    let body: string;
    try {
      body = await readBody(req, limit);
    } catch (error) {
      if (!(error instanceof BodyTooLarge)) throw error;
      log.warn({ ...fields, status: 413, reason: error.message }, "webhook delivery refused");
      return refuseTooLarge(res, error);
    } finally {
      unverifiedBytes -= reserved;
    }
    if (!(await verify(options.secret, body, String(req.headers["x-hub-signature-256"])).catch(() => false))) {
      return refuse(res, 400, "signature does not match event payload and secret (check WEBHOOK_SECRET)", fields);
    }
    let payload: unknown;
    try {
      payload = JSON.parse(body);
    } catch {
      return refuse(res, 400, "Invalid JSON", fields);
    }
    try {
      await options.receive({ id, name, payload });
    } catch (error) {
      log.error({ ...fields, reason: describeFailure(error).reason }, "webhook handler failed");
      res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ error: "handler failed" }));
      return true;
    }
    res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
    return true;
  };
}
