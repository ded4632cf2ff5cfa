// What `npm start` does. It reads `.env` first (values in the environment win).
// Without App credentials (and outside production) it serves our setup page, which
// creates the GitHub App on GitHub and writes its credentials to `.env`; with them
// it checks every setting and serves webhooks. A bad setting throws SettingsError
// before anything starts.
import type { RuntimeOptions } from "./runtime-io.js";
import { startServer } from "./server.js";
import { checkRunnerSettings, loadSettings } from "./settings/load-settings.js";
import { SETTINGS } from "./settings/settings-schema.js";
import { loadDotenv } from "./setup/load-dotenv.js";
import type { ListeningServer } from "./setup/listening-server.js";
import { startSetupServer } from "./setup/setup-server.js";

export interface StartOptions extends RuntimeOptions {
  /** Where `.env`, app.yml and relative setting paths are read (default: the process's). */
  cwd?: string;
}

export async function start(env: NodeJS.ProcessEnv = process.env, options: StartOptions = {}): Promise<ListeningServer> {
  const { cwd = process.cwd(), ...serverOptions } = options;
  loadDotenv(cwd, env);
  if (!env.APP_ID && env.NODE_ENV !== "production") {
    if (env.RUNNER_CONFIG) checkRunnerSettings(env, cwd);
    return startSetupServer({
      env,
      cwd,
      host: SETTINGS.HOST.schema.parse(env.HOST || undefined),
      port: SETTINGS.PORT.schema.parse(env.PORT || undefined),
      ...(env.LOG_LEVEL === "silent" ? { log: () => {} } : {}),
    });
  }
  const settings = loadSettings(env, cwd);
  return startServer(settings, { extraSecrets: [env.MODAL_TOKEN_SECRET], ...serverOptions });
}
