// `npm start`: see start.ts. Exits with a readable message when a setting is wrong.
// SIGTERM (docker stop, Kubernetes) and SIGINT (Ctrl-C) stop it gracefully: no new
// webhooks, in-flight dispatches finish within SHUTDOWN_TIMEOUT, then exit 0. The
// reconciler finishes whatever the bound cuts short.
import { createLogger } from "./telemetry/create-logger.js";
import { SettingsError } from "./settings/load-settings.js";
import { SETTINGS } from "./settings/settings-schema.js";
import { start } from "./start.js";

try {
  const running = await start();
  // start() has read .env into process.env and, serving webhooks, checked every setting
  // (the setup page checks none: there the default). The default, 8 s, drains within
  // Docker's default stop grace period (10 s, then SIGKILL).
  const drainTimeoutMs = SETTINGS.SHUTDOWN_TIMEOUT.schema.safeParse(process.env.SHUTDOWN_TIMEOUT || undefined).data ?? 8_000;
  const log = createLogger({
    level: SETTINGS.LOG_LEVEL.schema.safeParse(process.env.LOG_LEVEL || undefined).data ?? "info",
    secrets: [],
  }).child({ component: "main" });
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      // A second Ctrl-C means "now".
      process.exit(1);
    }
    stopping = true;
    log.info({ signal, drainTimeoutMs }, "shutting down: no new webhooks, draining in-flight work");
    running.shutdown(drainTimeoutMs).then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
} catch (error) {
  if (!(error instanceof SettingsError)) throw error;
  console.error(error.message);
  process.exit(1);
}
