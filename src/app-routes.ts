// The App's own HTTP routes, as one handler for Probot's `addHandler`: the webhook
// guard first (size, then signature, before Probot sees a byte: see
// http/webhook-endpoint.ts), then /ping, /health, /metrics, the status page,
// POST /reconcile and the home page. A request none of them answers falls through to
// Probot (and then to the server's 404).
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { Runtime } from "./assemble.js";
import { healthEndpoint } from "./http/health-endpoint.js";
import { homePage } from "./http/home-page.js";
import { limitBody } from "./http/limit-body.js";
import { webhookEndpoint, type VerifiedDelivery } from "./http/webhook-endpoint.js";
import { requestUrl } from "./lib/request-url.js";
import { statusHandler } from "./telemetry/status-handler.js";
import { RECONCILE_PATH, reconcileEndpoint } from "./reconcile/reconcile-endpoint.js";
import type { Settings } from "./settings/load-settings.js";

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

const ping: RouteHandler = (req, res) => {
  if (req.method !== "GET" || requestUrl(req).pathname !== "/ping") return false;
  res.writeHead(200, { "content-type": "text/plain" }).end("PONG");
  return true;
};

export function appRoutes(options: {
  settings: Settings;
  runtime: Runtime;
  /** `app.webhooks.receive`: a verified delivery enters through `app.on(...)`. */
  receive: (delivery: VerifiedDelivery) => Promise<void>;
  /** npm start serves /metrics on METRICS_PORT when it is set; elsewhere it stays here. */
  metricsOnOwnPort: boolean;
  log: Logger;
}): RouteHandler {
  const { settings, runtime } = options;
  const { statusToken } = settings.observe;
  const handlers: RouteHandler[] = [
    webhookEndpoint({
      path: settings.github.webhookPath,
      secret: settings.github.webhookSecret,
      receive: options.receive,
      log: options.log,
    }),
    ping,
    healthEndpoint({
      problems: () => runtime.telemetry.problems(),
      lastPass: () => runtime.telemetry.lastPass,
      degraded: runtime.degraded,
    }),
    ...(options.metricsOnOwnPort ? [] : [runtime.metrics.handler({ token: statusToken })]),
    statusHandler({ token: statusToken, snapshot: () => runtime.telemetry.snapshot() }),
    ...(settings.reconcile.secret ? [limitBody(RECONCILE_PATH)] : []),
    reconcileEndpoint(settings.reconcile.secret, (full) => runtime.reconciler.run({ full, reason: "http" })),
    homePage({ statusPage: statusToken !== undefined, webhookPath: settings.github.webhookPath }),
  ];
  return async (req, res) => {
    for (const handler of handlers) if (await handler(req, res)) return true;
    return false;
  };
}
