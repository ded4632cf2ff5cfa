// POST /reconcile runs a pass and answers its summary, for deployments that drive
// the reconciler from cron or a scheduler. It needs `Authorization: Bearer
// <RECONCILE_SECRET>`; without that setting the endpoint does not exist.
import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { PassSummary } from "./reconciler.js";
import { requestUrl } from "../lib/request-url.js";

export const RECONCILE_PATH = "/reconcile";

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function answer(res: ServerResponse, status: number, body: unknown): true {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  return true;
}

export function reconcileEndpoint(secret: string | undefined, run: (full: boolean) => Promise<PassSummary>) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const url = requestUrl(req);
    if (url.pathname !== RECONCILE_PATH || !secret) return false;
    if (req.method !== "POST") return answer(res, 405, { error: "use POST" });
    const token = /^Bearer (.+)$/i.exec(req.headers.authorization ?? "")?.[1] ?? "";
    if (!sameSecret(token, secret)) return answer(res, 401, { error: "missing or wrong bearer token (RECONCILE_SECRET)" });
    const summary = await run(url.searchParams.get("full") === "true");
    return answer(res, summary.ok ? 200 : 503, summary);
  };
}
