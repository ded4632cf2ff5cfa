// The running App: the parts from `assemble`, an HTTP server in front of them, and
// an orderly shutdown. The server is plain node:http with a short list of
// handlers (webhooks first): we check the size and signature of a delivery
// ourselves, then call the handler for its event.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { assemble, type Runtime } from "./assemble.js";
import { runDoctor } from "./doctor/run-doctor.js";
import { summarizeChecks } from "./doctor/summarize-checks.js";
import { forwardWebhookProxy } from "./http/forward-webhook-proxy.js";
import { healthEndpoint } from "./http/health-endpoint.js";
import { homePage } from "./http/home-page.js";
import { limitBody } from "./http/limit-body.js";
import { webhookEndpoint } from "./http/webhook-endpoint.js";
import { describeFailure } from "./lib/errors.js";
import { requestUrl } from "./lib/request-url.js";
import { startMetricsServer, type MetricsServer } from "./observe/start-metrics-server.js";
import { statusHandler } from "./observe/status-handler.js";
import { RECONCILE_PATH, reconcileEndpoint } from "./reconcile/reconcile-endpoint.js";
import { createRuntimeIo, type RuntimeIo, type RuntimeOptions } from "./runtime-io.js";
import type { Settings } from "./settings/load-settings.js";

type Handler = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

export interface RunningServer {
  http: Server;
  runtime: Runtime;
  address(): AddressInfo;
  /** The port /metrics is served on when METRICS_PORT is set. */
  metricsPort: number | undefined;
  /** Stops taking requests, lets in-flight dispatches finish (at most `timeoutMs`), stops timers. */
  shutdown(timeoutMs?: number): Promise<void>;
}

const ping: Handler = (req, res) => {
  if (req.method !== "GET" || requestUrl(req).pathname !== "/ping") return false;
  res.writeHead(200, { "content-type": "text/plain" }).end("PONG");
  return true;
};

/**
 * The doctor's checks, once the Modal app and images are resolved: credentials, the
 * webhook, each installation's permissions and runner group, Modal. One summary
 * line (a warning when something fails), so a wrong setting shows at start-up, not
 * as the first job's failure minutes later.
 */
async function checkAtStartUp(settings: Settings, io: RuntimeIo, runtime: Runtime, log: Logger): Promise<void> {
  try {
    await runtime.fleet.prepare(settings.runner.config.profiles);
    const results = await runDoctor(settings, {
      appOctokit: io.github.app,
      installationOctokit: io.github.installation,
      modal: io.modal,
      now: io.now,
    });
    const summary = summarizeChecks(results);
    const problems = results
      .filter((result) => result.status !== "ok")
      .map(({ check, status, detail, fix }) => ({ check, status, detail, fix }));
    if (summary.ok) log.info({ counts: summary.counts, problems }, summary.line);
    else log.warn({ counts: summary.counts, problems }, `${summary.line}; run \`npm run doctor\` for the table`);
  } catch (error) {
    log.warn({ reason: describeFailure(error).reason }, "start-up checks could not run");
  }
}

export async function startServer(settings: Settings, options: RuntimeOptions = {}): Promise<RunningServer> {
  const io = createRuntimeIo(settings, options);
  const runtime = assemble(settings, io, { reconcileOnTimer: options.reconcileOnTimer });
  const log = io.log.child({ component: "server" });

  const { statusToken, metricsPort } = settings.observe;
  const handlers: Handler[] = [
    webhookEndpoint({
      path: settings.github.webhookPath,
      secret: settings.github.webhookSecret,
      on: { workflow_job: runtime.handleWorkflowJob },
      log,
    }),
    ping,
    healthEndpoint({
      modalUnavailable: runtime.modalUnavailable,
      lastPass: () => runtime.observability.lastPass,
      degraded: runtime.degraded,
    }),
    // With METRICS_PORT, /metrics lives on that port only (no token); else here, behind STATUS_TOKEN.
    ...(metricsPort === undefined ? [runtime.metrics.handler({ token: statusToken })] : []),
    statusHandler({ token: statusToken, snapshot: () => runtime.observability.snapshot() }),
    ...(settings.reconcile.secret ? [limitBody(RECONCILE_PATH)] : []),
    reconcileEndpoint(settings.reconcile.secret, (full) => runtime.reconciler.run({ full, reason: "http" })),
    homePage({ statusPage: statusToken !== undefined, webhookPath: settings.github.webhookPath }),
  ];
  const http = createServer(async (req, res) => {
    try {
      for (const handler of handlers) if (await handler(req, res)) return;
      res.writeHead(404, { "content-type": "text/plain" }).end("Not found\n");
    } catch (error) {
      log.error({ method: req.method, path: req.url?.split("?")[0], reason: (error as Error).message }, "request failed");
      if (!res.headersSent) res.writeHead(500).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen({ port: settings.server.port, host: settings.server.host }, () => {
      http.off("error", reject);
      resolve();
    });
  });
  const metricsServer: MetricsServer | undefined =
    metricsPort === undefined
      ? undefined
      : await startMetricsServer({ metrics: runtime.metrics, port: metricsPort, host: settings.server.host });
  const address = () => http.address() as AddressInfo;
  const proxy = settings.github.webhookProxyUrl
    ? forwardWebhookProxy(settings.github.webhookProxyUrl, `http://127.0.0.1:${address().port}${settings.github.webhookPath}`, log)
    : undefined;
  log.info({ address: address().address, port: address().port, webhookPath: settings.github.webhookPath }, "listening");
  runtime.start();
  if (options.startupChecks !== false) void checkAtStartUp(settings, io, runtime, log);

  let stopping: Promise<void> | undefined;
  const shutdown = (timeoutMs = 30_000) =>
    (stopping ??= (async () => {
      await proxy?.stop().catch(() => undefined);
      const closed = new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeIdleConnections();
      const drained = await runtime.drain(timeoutMs);
      await runtime.stop();
      http.closeAllConnections();
      await Promise.all([closed, metricsServer?.close()]);
      log.info(
        { drained, waiting: runtime.dispatcher.waiting().length },
        drained
          ? "stopped; in-flight dispatches finished"
          : "stopped; in-flight dispatches did not finish in time (the reconciler will serve their jobs)",
      );
    })());
  return { http, runtime, address, metricsPort: metricsServer?.port, shutdown };
}
