// `npm start`'s server: plain node:http in front of the App mounted the way any Probot
// app is mounted (Probot's `createNodeMiddleware` over the app function in index.ts),
// plus what Probot's own server lacks: listening on every interface by default (HOST),
// /metrics on its own port (METRICS_PORT), the smee forwarder (WEBHOOK_PROXY_URL) and
// an orderly shutdown that lets in-flight dispatches finish.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createNodeMiddleware } from "probot";
import type { Runtime } from "./assemble.js";
import { modalRunnerApp } from "./index.js";
import { describeFailure } from "./lib/errors.js";
import { startMetricsServer, type MetricsServer } from "./telemetry/start-metrics-server.js";
import { createRuntimeIo, type RuntimeOptions } from "./runtime-io.js";
import type { Settings } from "./settings/load-settings.js";

export interface RunningServer {
  http: Server;
  runtime: Runtime;
  address(): AddressInfo;
  /** The port /metrics is served on when METRICS_PORT is set. */
  metricsPort: number | undefined;
  /** Stops taking requests, lets in-flight dispatches finish (at most `timeoutMs`), stops timers. */
  shutdown(timeoutMs?: number): Promise<void>;
}

export async function startServer(settings: Settings, options: RuntimeOptions = {}): Promise<RunningServer> {
  const io = createRuntimeIo(settings, options);
  const log = io.log.child({ component: "server" });
  let assembled: Runtime | undefined;
  // `probot: io.probot`: the app function runs on the Probot whose Octokit and logger are ours.
  const middleware = await createNodeMiddleware(
    modalRunnerApp({ ...options, settings, io, metricsOnOwnPort: true, onAssembled: (parts) => (assembled = parts) }),
    { probot: io.probot, webhooksPath: settings.github.webhookPath },
  );
  const runtime = assembled!;
  // Every failure is answered here, so the promise is never left to reject.
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      if (await middleware(req, res)) return;
      if (!res.headersSent) res.writeHead(404, { "content-type": "text/plain" }).end("Not found\n");
    } catch (error) {
      log.error({ method: req.method, path: req.url?.split("?")[0], reason: describeFailure(error).reason }, "request failed");
      if (!res.headersSent) res.writeHead(500).end();
    }
  };
  const http = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen({ port: settings.server.port, host: settings.server.host }, () => {
      http.off("error", reject);
      resolve();
    });
  });
  const { metricsPort } = settings.observe;
  const metricsServer: MetricsServer | undefined =
    metricsPort === undefined
      ? undefined
      : await startMetricsServer({ metrics: runtime.metrics, port: metricsPort, host: settings.server.host });
  const address = () => http.address() as AddressInfo;
  // Loaded only with WEBHOOK_PROXY_URL (development): smee-client and its EventSource
  // client are code no deployed App runs.
  const proxy = settings.github.webhookProxyUrl
    ? (await import("./http/forward-webhook-proxy.js")).forwardWebhookProxy(
        settings.github.webhookProxyUrl,
        `http://127.0.0.1:${address().port}${settings.github.webhookPath}`,
        log,
      )
    : undefined;
  log.info({ address: address().address, port: address().port, webhookPath: settings.github.webhookPath }, "listening");

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
