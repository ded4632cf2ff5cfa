// `npm start` before the App exists: a small server with our setup page (not
// Probot's generic one), GitHub's manifest flow, and the callback that writes the
// new App's credentials to `.env`. The next `npm start` reads that file and serves.
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { appManifest, readAppYml } from "./app-manifest.js";
import { convertManifestCode } from "./convert-manifest-code.js";
import { githubApiUrl, newAppUrl } from "./github-web-url.js";
import type { ListeningServer } from "./listening-server.js";
import { renderCreatedPage, renderErrorPage, renderSetupPage } from "./setup-pages.js";
import { updateDotenv } from "./update-dotenv.js";

type Env = Record<string, string | undefined>;
const CALLBACK_PATH = "/setup/callback";

export interface SetupServerOptions {
  env: Env;
  /** Where `.env` is written (and app.yml read). */
  cwd: string;
  host: string;
  port: number;
  log?: (line: string) => void;
}

function send(res: http.ServerResponse, status: number, html: string): void {
  res.writeHead(status, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store", "x-frame-options": "DENY" });
  res.end(html);
}

export async function startSetupServer(options: SetupServerOptions): Promise<ListeningServer> {
  const { env, cwd } = options;
  const log = options.log ?? ((line: string) => console.log(line));
  const appYml = readAppYml(cwd);
  const webhookPath = env.WEBHOOK_PATH || "/api/github/webhooks";
  const webhookProxyUrl = env.WEBHOOK_PROXY_URL || undefined;
  // GitHub returns `state` to the callback unchanged: a code is accepted only from a
  // flow this process started (no one else can make it write .env).
  const state = randomBytes(16).toString("hex");
  const envFile = path.join(cwd, ".env");

  const setupPage = (req: http.IncomingMessage, url: URL): string => {
    // The browser reached us at this address, so GitHub's redirect back can too.
    const origin = `http://${req.headers.host ?? `localhost:${options.port}`}`;
    const name = url.searchParams.get("name")?.trim() || env.APP_NAME || appYml.name || "modal-github-runner";
    const org = url.searchParams.get("org")?.trim() ?? "";
    const webhookUrl = webhookProxyUrl ?? (url.searchParams.get("webhook_url")?.trim() || `${origin}${webhookPath}`);
    const manifest = appManifest(appYml, { name, webhookUrl, redirectUrl: `${origin}${CALLBACK_PATH}` });
    return renderSetupPage({ name, org, webhookUrl, webhookProxyUrl, action: newAppUrl(env, org || undefined, state), manifest });
  };

  const callback = async (url: URL): Promise<[number, string]> => {
    const code = url.searchParams.get("code");
    if (!code || url.searchParams.get("state") !== state) {
      return [
        400,
        renderErrorPage(
          "Not a setup this App started",
          "Start again from the setup page: GitHub's link is valid for this run of `npm start` only.",
        ),
      ];
    }
    try {
      const app = await convertManifestCode(code, githubApiUrl(env));
      updateDotenv(envFile, {
        APP_ID: String(app.id),
        PRIVATE_KEY: app.pem,
        WEBHOOK_SECRET: app.webhookSecret,
        GITHUB_CLIENT_ID: app.clientId,
        GITHUB_CLIENT_SECRET: app.clientSecret,
        ...(webhookProxyUrl ? { WEBHOOK_PROXY_URL: webhookProxyUrl } : {}),
      });
      log(`GitHub App ${app.slug || app.id} created; its credentials are in ${envFile}. Restart \`npm start\` to serve it.`);
      return [200, renderCreatedPage({ htmlUrl: app.htmlUrl, envFile, webhookUrl: webhookProxyUrl })];
    } catch (error) {
      const status = (error as { status?: number }).status;
      const detail =
        status === 404
          ? "GitHub does not know this code (it is valid once, for one hour). Create the App again."
          : `GitHub answered ${status ?? "nothing"}: try again.`;
      return [502, renderErrorPage("Could not fetch the new App's credentials", detail)];
    }
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://setup.invalid");
    if (req.method === "GET" && url.pathname === "/") return send(res, 200, setupPage(req, url));
    if (req.method === "GET" && url.pathname === CALLBACK_PATH) {
      void callback(url).then(([status, html]) => send(res, status, html));
      return;
    }
    if (req.method === "GET" && url.pathname === "/ping") {
      res.writeHead(200, { "content-type": "text/plain" });
      return res.end("PONG");
    }
    send(res, 404, renderErrorPage("Not found", "This App is not set up yet: open / to create its GitHub App."));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: options.host, port: options.port }, resolve);
  });
  const address = server.address() as AddressInfo;
  log(`No GitHub App yet: open http://localhost:${address.port}/ to create it`);
  return {
    address: () => address,
    shutdown: async (timeoutMs) => {
      const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
      server.closeIdleConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      clearTimeout(timer);
    },
  };
}
