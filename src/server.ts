// Assembles the running App: Probot's server with our logger and Octokit, the
// Modal client, and the app itself. start.ts calls it with defaults; tests inject
// the fakes' clients and shorter backoffs through the same function.
import { Probot, Server } from "probot";
import { createApp, type AppParts } from "./app.js";
import { probotOptions, type RuntimeOptions } from "./probot-options.js";
import type { Settings } from "./settings/load-settings.js";

export interface ServerOptions extends RuntimeOptions {
  /** false: no reconcile pass at start-up nor on a timer (tests drive passes). */
  reconcileOnTimer?: boolean;
  onReady?: (parts: AppParts) => void;
}

export async function startServer(settings: Settings, options: ServerOptions = {}): Promise<Server> {
  const { log, probot, modal } = probotOptions(settings, options);
  const server = new Server({
    host: settings.server.host,
    port: settings.server.port,
    webhookPath: settings.github.webhookPath,
    webhookProxy: settings.github.webhookProxyUrl,
    log,
    Probot: Probot.defaults(probot),
  });
  await server.load(createApp({ settings, modal, modalRetry: options.modalRetry, reconcileOnTimer: options.reconcileOnTimer, onReady: options.onReady }));
  await server.start();
  return server;
}
