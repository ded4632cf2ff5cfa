// Assembles the running App: logger, Probot server with our Octokit, the Modal
// client, and the app itself. main.ts calls it with defaults; tests inject fakes'
// clients and shorter backoffs through the same function.
import { ModalClient } from "modal";
import type { DestinationStream } from "pino";
import { Probot, Server } from "probot";
import { createApp, type AppParts } from "./app.js";
import { createOctokitClass, DEFAULT_OCTOKIT_TUNING, type OctokitTuning } from "./github/create-octokit-class.js";
import type { RetryOptions } from "./modal/with-modal-retry.js";
import { createLogger } from "./observe/create-logger.js";
import type { Settings } from "./settings/load-settings.js";

export interface ServerOptions {
  modal?: ModalClient;
  octokitTuning?: Partial<OctokitTuning>;
  modalRetry?: RetryOptions;
  logDestination?: DestinationStream;
  /** Secrets the logger must scrub besides the App's own (e.g. MODAL_TOKEN_SECRET). */
  extraSecrets?: (string | undefined)[];
  /** false: no reconcile pass at start-up nor on a timer (tests and the CLI drive passes). */
  reconcileOnTimer?: boolean;
  onReady?: (parts: AppParts) => void;
}

export async function startServer(settings: Settings, options: ServerOptions = {}): Promise<Server> {
  const log = createLogger({
    level: settings.logLevel,
    secrets: [settings.github.privateKey, settings.github.webhookSecret, settings.reconcile.secret, ...(options.extraSecrets ?? [])],
    destination: options.logDestination,
  });
  const server = new Server({
    host: settings.server.host,
    port: settings.server.port,
    webhookPath: settings.github.webhookPath,
    webhookProxy: settings.github.webhookProxyUrl,
    log,
    Probot: Probot.defaults({
      appId: settings.github.appId,
      privateKey: settings.github.privateKey,
      secret: settings.github.webhookSecret,
      baseUrl: settings.github.baseUrl,
      Octokit: createOctokitClass({ ...DEFAULT_OCTOKIT_TUNING, ...options.octokitTuning }),
      log,
    }),
  });
  const modal = options.modal ?? new ModalClient({ environment: settings.modal.environment });
  await server.load(createApp({ settings, modal, modalRetry: options.modalRetry, reconcileOnTimer: options.reconcileOnTimer, onReady: options.onReady }));
  await server.start();
  return server;
}
