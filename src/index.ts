// The App as a Probot app function: the package's main. Load it however Probot apps
// are loaded (`npm start`, `npx probot run ./dist/index.js`, `createNodeMiddleware`
// in any Node server; see docs/probot-modes.md):
// - the parts are built by `assemble` (which knows nothing of HTTP);
// - `app.on("workflow_job.queued" | ".in_progress" | ".completed")` is where every
//   job enters, `app.on(["installation", "installation_repositories"])` where
//   installations come and go; a delivery id seen before is acknowledged and ignored;
// - the App's routes (webhook guard, /health, /metrics, status page, POST /reconcile)
//   are mounted with `addHandler`. Where Probot has no server (`probot.load(app)`),
//   `addHandler` throws "No server instance": webhooks are then served by Probot
//   alone, and the routes are not.
import type { ApplicationFunction, Context } from "probot";
import { assemble, type Runtime } from "./assemble.js";
import { appRoutes } from "./app-routes.js";
import { checkAtStartUp } from "./check-at-start-up.js";
import { describeFailure } from "./lib/errors.js";
import { createRuntimeIo, type RuntimeIo, type RuntimeOptions } from "./runtime-io.js";
import { loadSettings, type Settings } from "./settings/load-settings.js";
import { DeliveryWindow } from "./webhooks/delivery-window.js";

export interface ModalRunnerAppOptions extends RuntimeOptions {
  /** Default: read from the environment (and `cwd`) when the app function runs. */
  settings?: Settings;
  /** Default: built from the settings. `npm start` passes the one whose Probot it mounts the app on. */
  io?: RuntimeIo;
  /** npm start serves /metrics on METRICS_PORT itself. */
  metricsOnOwnPort?: boolean;
  /** Called with the parts once built (npm start drains them on SIGTERM). */
  onAssembled?: (runtime: Runtime, io: RuntimeIo) => void;
}

export function modalRunnerApp(options: ModalRunnerAppOptions = {}): ApplicationFunction {
  return (app, { cwd, addHandler }) => {
    const settings = options.settings ?? loadSettings(process.env, cwd ?? process.cwd());
    const io = options.io ?? createRuntimeIo(settings, { extraSecrets: [process.env.MODAL_TOKEN_SECRET], ...options });
    const runtime = assemble(settings, io, { reconcileOnTimer: options.reconcileOnTimer });
    const log = io.log.child({ component: "app" });

    const deliveries = new DeliveryWindow();
    const once =
      (handle: (payload: unknown, deliveryId: string) => void) =>
      (context: Context): void => {
        if (!deliveries.firstTime(context.id)) {
          log.info({ deliveryId: context.id, event: context.name }, "delivery seen before: ignored");
          return;
        }
        try {
          handle(context.payload, context.id);
        } catch (error) {
          deliveries.forget(context.id);
          throw error;
        }
      };
    app.on(["workflow_job.queued", "workflow_job.in_progress", "workflow_job.completed"], once(runtime.handleWorkflowJob));
    app.on(["installation", "installation_repositories"], once(runtime.handleInstallation));

    const routes = appRoutes({
      settings,
      runtime,
      receive: (delivery) => app.webhooks.receive(delivery as Parameters<typeof app.webhooks.receive>[0]),
      metricsOnOwnPort: options.metricsOnOwnPort === true && settings.observe.metricsPort !== undefined,
      log: io.log.child({ component: "server" }),
    });
    try {
      addHandler(routes);
    } catch (error) {
      if (!describeFailure(error).reason.includes("No server instance")) throw error;
      log.info("no HTTP server: webhooks are served by Probot; /health, /metrics, the status page and /reconcile are not");
    }

    runtime.start();
    if (options.startupChecks !== false) void checkAtStartUp(settings, io, runtime, log);
    options.onAssembled?.(runtime, io);
  };
}

/** The App with every setting from the environment: what `probot run` and `createNodeMiddleware` load. */
export default modalRunnerApp();
