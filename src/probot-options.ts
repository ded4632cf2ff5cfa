// What the server and the CLI both need to run the App: the logger that scrubs
// secrets, Probot's options with our Octokit, and the Modal client.
import { ModalClient } from "modal";
import type { DestinationStream, Logger } from "pino";
import { createOctokitClass, DEFAULT_OCTOKIT_TUNING, type OctokitTuning } from "./github/create-octokit-class.js";
import type { RetryOptions } from "./modal/with-modal-retry.js";
import { createLogger } from "./observe/create-logger.js";
import type { Settings } from "./settings/load-settings.js";

/** What tests (and nothing else) change about how the App talks to the world. */
export interface RuntimeOptions {
  modal?: ModalClient;
  octokitTuning?: Partial<OctokitTuning>;
  modalRetry?: RetryOptions;
  logDestination?: DestinationStream;
  /** Secrets the logger must scrub besides those in the settings (e.g. MODAL_TOKEN_SECRET). */
  extraSecrets?: (string | undefined)[];
}

export function probotOptions(settings: Settings, options: RuntimeOptions) {
  const log: Logger = createLogger({
    level: settings.logLevel,
    secrets: [settings.github.privateKey, settings.github.webhookSecret, settings.reconcile.secret, ...(options.extraSecrets ?? [])],
    destination: options.logDestination,
  });
  return {
    log,
    probot: {
      appId: settings.github.appId,
      privateKey: settings.github.privateKey,
      secret: settings.github.webhookSecret,
      baseUrl: settings.github.baseUrl,
      Octokit: createOctokitClass({ ...DEFAULT_OCTOKIT_TUNING, ...options.octokitTuning }),
      log,
    },
    modal: options.modal ?? new ModalClient({ environment: settings.modal.environment }),
  };
}
