// One reconcile pass without a server, for cron jobs and serverless deployments
// (`npm run reconcile`): the same App, loaded into Probot without listening.
import { Probot } from "probot";
import { createApp, type AppParts } from "../app.js";
import { probotOptions, type RuntimeOptions } from "../probot-options.js";
import type { PassSummary } from "../reconcile/reconciler.js";
import type { Settings } from "../settings/load-settings.js";

export async function reconcileOnce(settings: Settings, options: RuntimeOptions & { full: boolean }): Promise<PassSummary> {
  const { probot: probotSettings, modal } = probotOptions(settings, options);
  const probot = new Probot(probotSettings);
  let parts: AppParts | undefined;
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
