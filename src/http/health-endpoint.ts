// GET /health: readiness, for a load balancer or an operator. /ping says only that
// the process answers (liveness: restart it if not); /health says whether it can
// serve jobs now: a reconcile pass has succeeded since start-up, GitHub answers the
// App (its key, its installation tokens, the API), Modal answers, and the last pass
// could observe both. 200 when ready, 503 naming each reason otherwise. No secret,
// no repository name: states, times and short reasons only.
import type { IncomingMessage, ServerResponse } from "node:http";
import { requestUrl } from "../lib/request-url.js";

export interface HealthSources {
  /** Why the App cannot serve jobs now, in plain words; empty when it can. */
  problems(): string[];
  /** The last reconcile pass: when it ended and whether it could observe the world. */
  lastPass(): { at: string; ok: boolean } | undefined;
  /**
   * A fleet's Redis unreachable ("degraded: Redis unreachable"). The replica still serves
   * (on a local share), so it stays ready: taking every replica out of the load balancer
   * because Redis is down would turn a degraded mode into an outage.
   */
  degraded?(): string | undefined;
}

export function healthEndpoint(sources: HealthSources) {
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.method !== "GET" || requestUrl(req).pathname !== "/health") return false;
    const problems = sources.problems();
    const pass = sources.lastPass();
    res
      .writeHead(problems.length === 0 ? 200 : 503, { "content-type": "application/json", "cache-control": "no-store" })
      .end(JSON.stringify({ ready: problems.length === 0, problems, degraded: sources.degraded?.() ?? null, lastReconcile: pass ?? null }));
    return true;
  };
}
