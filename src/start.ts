// What `npm start` does. Without App credentials (and outside production) it serves
// Probot's manifest page, which creates the GitHub App from app.yml in one click and
// writes its credentials to .env; with them it checks every setting and serves
// webhooks. A bad setting throws SettingsError before anything starts.
import { run, type Server } from "probot";
import { startServer, type RunningServer } from "./server.js";
import { loadSettings } from "./settings/load-settings.js";

export async function start(env: NodeJS.ProcessEnv = process.env): Promise<Server | RunningServer> {
  if (!env.APP_ID && env.NODE_ENV !== "production") {
    return run(() => {}, { env });
  }
  const settings = loadSettings(env);
  return startServer(settings, { extraSecrets: [env.MODAL_TOKEN_SECRET] });
}
