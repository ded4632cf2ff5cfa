// One reconcile pass without a server, for cron jobs and serverless deployments
// (`npm run reconcile`): the same parts, assembled without listening.
import { assemble } from "../assemble.js";
import type { PassSummary } from "../reconcile/reconciler.js";
import { createRuntimeIo, type RuntimeOptions } from "../runtime-io.js";
import type { Settings } from "../settings/load-settings.js";

export async function reconcileOnce(settings: Settings, options: RuntimeOptions & { full: boolean }): Promise<PassSummary> {
  const runtime = assemble(settings, createRuntimeIo(settings, options), { reconcileOnTimer: false });
  try {
    const summary = await runtime.reconciler.run({ full: options.full, reason: "cli" });
    await runtime.idle(); // jobs the pass handed to the dispatcher
    return summary;
  } finally {
    await runtime.stop();
  }
}
