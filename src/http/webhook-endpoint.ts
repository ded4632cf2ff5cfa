// POST <WEBHOOK_PATH>: GitHub's deliveries. The body is read up to GitHub's own cap
// on payloads (25 MB) and its signature checked before anything is parsed; a
// refused delivery is answered with the reason and logged without its payload.
// A valid one goes to the handler for its event, which only queues work, so the
// answer goes out at once (GitHub gives a delivery 10 s). (Probot's router would
// build an authenticated Octokit per delivery first; the handlers need none.)
import type { IncomingMessage, ServerResponse } from "node:http";
import { verify } from "@octokit/webhooks-methods";
import type { Logger } from "pino";
import { BodyTooLarge, readBody, refuseTooLarge } from "./read-body.js";
import { requestUrl } from "../lib/request-url.js";

/** GitHub caps webhook payloads at 25 MB. */
export const MAX_WEBHOOK_BYTES = 25 * 1024 * 1024;

const REQUIRED_HEADERS = ["x-github-event", "x-hub-signature-256", "x-github-delivery"] as const;

/** Handles one verified delivery of an event; must not wait for GitHub or Modal. */
export type EventHandler = (payload: unknown, deliveryId: string) => void;

export function webhookEndpoint(options: {
  path: string;
  secret: string;
  on: Record<string, EventHandler>;
  log: Logger;
  maxBytes?: number;
}) {
  const { log } = options;
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
    let body: string;
    try {
      body = await readBody(req, options.maxBytes ?? MAX_WEBHOOK_BYTES);
    } catch (error) {
      if (!(error instanceof BodyTooLarge)) throw error;
      log.warn({ ...fields, status: 413, reason: error.message }, "webhook delivery refused");
      return refuseTooLarge(res, error);
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
      // Events the App does not handle are answered 200 and ignored, as GitHub expects.
      options.on[name]?.(payload, id);
    } catch (error) {
      log.error({ ...fields, reason: (error as Error).message }, "webhook handler failed");
      res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ error: "handler failed" }));
      return true;
    }
    res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
    return true;
  };
}
