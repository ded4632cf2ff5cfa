// Entry point of `npm start`. Without App credentials it serves Probot's manifest
// page that creates the GitHub App from app.yml; with them it checks every setting
// and serves webhooks.
import { ModalClient } from "modal";
import { Probot, Server, run } from "probot";
import { createApp } from "./app.js";
import { createOctokitClass } from "./github/create-octokit-class.js";
import { createLogger } from "./observe/create-logger.js";
import { loadSettings, SettingsError, type Settings } from "./settings/load-settings.js";

export async function startServer(settings: Settings, env: NodeJS.ProcessEnv = process.env): Promise<Server> {
  const log = createLogger({
    level: settings.logLevel,
    secrets: [settings.github.privateKey, settings.github.webhookSecret, env.MODAL_TOKEN_SECRET],
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
      Octokit: createOctokitClass(),
      log,
    }),
  });
  const modal = new ModalClient({ environment: settings.modal.environment });
  await server.load(createApp({ settings, modal }));
  await server.start();
  return server;
}

async function main(): Promise<void> {
  if (!process.env.APP_ID && process.env.NODE_ENV !== "production") {
    // First run: Probot's setup page registers the App from app.yml and writes .env.
    await run(() => {});
    return;
  }
  let settings: Settings;
  try {
    settings = loadSettings();
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
  const server = await startServer(settings);
  const stop = async () => {
    await server.stop();
    process.exit(0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

await main();
