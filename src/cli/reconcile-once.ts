// One reconcile pass without a server, for cron jobs and serverless deployments
// (`npm run reconcile`): the same App, loaded into Probot without listening.
import { ModalClient } from "modal";
import type { DestinationStream } from "pino";
import { Probot } from "probot";
import { createApp, type AppParts } from "../app.js";
import { createOctokitClass, DEFAULT_OCTOKIT_TUNING, type OctokitTuning } from "../github/create-octokit-class.js";
import type { RetryOptions } from "../modal/with-modal-retry.js";
import { createLogger } from "../observe/create-logger.js";
import type { PassSummary } from "../reconcile/reconciler.js";
import type { Settings } from "../settings/load-settings.js";

export interface ReconcileOnceOptions {
  full: boolean;
  modal?: ModalClient;
  octokitTuning?: Partial<OctokitTuning>;
  modalRetry?: RetryOptions;
  logDestination?: DestinationStream;
  extraSecrets?: (string | undefined)[];
}

export async function reconcileOnce(settings: Settings, options: ReconcileOnceOptions): Promise<PassSummary> {
  const log = createLogger({
    level: settings.logLevel,
    secrets: [settings.github.privateKey, settings.github.webhookSecret, settings.reconcile.secret, ...(options.extraSecrets ?? [])],
    destination: options.logDestination,
  });
  const probot = new Probot({
    appId: settings.github.appId,
    privateKey: settings.github.privateKey,
    secret: settings.github.webhookSecret,
    baseUrl: settings.github.baseUrl,
    Octokit: createOctokitClass({ ...DEFAULT_OCTOKIT_TUNING, ...options.octokitTuning }),
    log,
  });
  let parts: AppParts | undefined;
  const modal = options.modal ?? new ModalClient({ environment: settings.modal.environment });
  await probot.load(createApp({ settings, modal, modalRetry: options.modalRetry, reconcileOnTimer: false, onReady: (ready) => (parts = ready) }), {
    cwd: process.cwd(),
    addHandler: () => {},
  });
  try {
    const summary = await parts!.reconciler.run({ full: options.full, reason: "cli" });
    await parts!.idle(); // jobs the pass handed to the dispatcher
    return summary;
  } finally {
    parts!.stop();
  }
}
