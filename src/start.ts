// What `npm start` does. It reads `.env` first (values in the environment win).
// Without App credentials (and outside production) it serves our setup page, which
// creates the GitHub App on GitHub and writes its credentials to `.env`; with them
// it checks every setting and serves webhooks. A bad setting throws SettingsError
// before anything starts.
import type { Server } from "probot";
import { startServer, type ServerOptions } from "./server.js";
import { loadSettings } from "./settings/load-settings.js";
import { SETTINGS } from "./settings/settings-schema.js";
import { loadDotenv } from "./setup/load-dotenv.js";
import type { RunningServer } from "./setup/running-server.js";
import { startSetupServer } from "./setup/setup-server.js";

export interface StartOptions extends ServerOptions {
  /** Where `.env`, app.yml and relative setting paths are read (default: the process's). */
  cwd?: string;
}

export async function start(env: NodeJS.ProcessEnv = process.env, options: StartOptions = {}): Promise<RunningServer> {
  const { cwd = process.cwd(), ...serverOptions } = options;
  loadDotenv(cwd, env);
  if (!env.APP_ID && env.NODE_ENV !== "production") {
    return startSetupServer({
      env,
      cwd,
      host: SETTINGS.HOST.schema.parse(env.HOST || undefined),
      port: SETTINGS.PORT.schema.parse(env.PORT || undefined),
      ...(env.LOG_LEVEL === "silent" ? { log: () => {} } : {}),
    });
  }
  const settings = loadSettings(env, cwd);
  const server = await startServer(settings, { extraSecrets: [env.MODAL_TOKEN_SECRET], ...serverOptions });
  return running(server);
}

// TODO(lead): startServer is to return { server, address(), shutdown(timeoutMs) };
// then return it as is and delete this adapter of Probot's Server.
function running(server: Server): RunningServer {
  const host = server.host.replace(/^\[(.*)\]$/, "$1");
  return {
    address: () => ({ address: host, port: server.port, family: host.includes(":") ? "IPv6" : "IPv4" }),
    shutdown: () => server.stop(),
  };
}
