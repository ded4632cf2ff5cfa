// `npm start` before the App exists: a small server with our setup page (not
// Probot's generic one; it also answers at Probot's path, /probot), GitHub's manifest
// flow, and the callback that writes the new App's credentials to `.env`. The next
// `npm start` reads that file and serves.
//
// It listens before the App exists, so it trusts no one it did not meet:
// - it answers only to the Host names it expects (localhost, 127.0.0.1, [::1], and the
//   HOST setting): a page on another site cannot reach it through DNS rebinding;
// - each page load gets its own `state`, kept in an HttpOnly cookie; the callback
//   needs both to match, and uses a state once: a leaked or replayed link cannot make
//   it write .env;
// - once credentials are written, it serves nothing but /ping.
import { randomBytes, timingSafeEqual } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { appManifest, readAppYml } from "./app-manifest.js";
import { convertManifestCode, describeConversionFailure } from "./convert-manifest-code.js";
import { appHomepageUrl, githubApiUrl, newAppUrl } from "./github-web-url.js";
import { BoundedMap } from "../lib/bounded.js";
import type { ListeningServer } from "./listening-server.js";
import { renderCreatedPage, renderErrorPage, renderSetupPage } from "./setup-pages.js";
import { updateDotenv } from "./update-dotenv.js";

type Env = Record<string, string | undefined>;
const CALLBACK_PATH = "/setup/callback";
const STATE_COOKIE = "setup_state";
/** A state is good for as long as GitHub's code: one hour. */
const STATE_TTL_MS = 3_600_000;
const LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "[::1]"];

/** The host name of a Host header, without its port ("[::1]:3000" → "[::1]"). */
function hostName(header: string | undefined): string {
  const value = (header ?? "").trim().toLowerCase();
  if (value.startsWith("[")) return value.slice(0, value.indexOf("]") + 1);
  return value.split(":")[0]!;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return rest.join("=");
  }
  return undefined;
}

function sameText(a: string, b: string): boolean {
  const [x, y] = [Buffer.from(a), Buffer.from(b)];
  return x.length === y.length && timingSafeEqual(x, y);
}

export interface SetupServerOptions {
  env: Env;
  /** Where `.env` is written (and app.yml read). */
  cwd: string;
  host: string;
  port: number;
  log?: (line: string) => void;
}

function send(res: http.ServerResponse, status: number, html: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    "x-frame-options": "DENY",
    ...headers,
  });
  res.end(html);
}

export async function startSetupServer(options: SetupServerOptions): Promise<ListeningServer> {
  const { env, cwd } = options;
  const log = options.log ?? ((line: string) => console.log(line));
  const appYml = readAppYml(cwd);
  const webhookPath = env.WEBHOOK_PATH || "/api/github/webhooks";
  const webhookProxyUrl = env.WEBHOOK_PROXY_URL || undefined;
  // GitHub returns `state` to the callback unchanged: a code is accepted only from a
  // flow this process started, in the browser that started it, once.
  const states = new BoundedMap<string, number>(100); // state → expiry (epoch ms)
  const envFile = path.join(cwd, ".env");
  const bind = (env.HOST ?? "").trim().toLowerCase();
  const expectedHosts = new Set([...LOOPBACK_HOSTS, ...(bind && !["0.0.0.0", "::", "[::]"].includes(bind) ? [hostName(bind)] : [])]);
  let converting = false;
  let credentialsWritten = false;

  const setupPage = (req: http.IncomingMessage, url: URL, state: string): string => {
    // The browser reached us at this address, so GitHub's redirect back can too.
    const origin = `http://${req.headers.host ?? `localhost:${options.port}`}`;
    const name = url.searchParams.get("name")?.trim() || env.APP_NAME || appYml.name || "modal-github-runner";
    const org = url.searchParams.get("org")?.trim() ?? "";
    const webhookUrl = webhookProxyUrl ?? (url.searchParams.get("webhook_url")?.trim() || `${origin}${webhookPath}`);
    const manifest = appManifest(appYml, {
      name,
      webhookUrl,
      redirectUrl: `${origin}${CALLBACK_PATH}`,
      homepageUrl: appHomepageUrl(env, name),
    });
    return renderSetupPage({ name, org, webhookUrl, webhookProxyUrl, action: newAppUrl(env, org || undefined, state), manifest });
  };

  const callback = async (req: http.IncomingMessage, url: URL): Promise<[number, string]> => {
    const code = url.searchParams.get("code");
    const state = url.searchParams.get("state") ?? "";
    const cookie = cookieValue(req.headers.cookie, STATE_COOKIE) ?? "";
    const expiresAt = states.get(state);
    if (!code || !state || !sameText(state, cookie) || expiresAt === undefined || expiresAt < Date.now() || converting) {
      return [
        400,
        renderErrorPage(
          "Not a setup this App started",
          "Start again from the setup page, in this browser: GitHub's link is valid once, for this run of `npm start` only.",
        ),
      ];
    }
    states.delete(state); // used once, whatever GitHub answers
    converting = true;
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
      credentialsWritten = true;
      log(`GitHub App ${app.slug || app.id} created; its credentials are in ${envFile}. Restart \`npm start\` to serve it.`);
      return [200, renderCreatedPage({ htmlUrl: app.htmlUrl, envFile, webhookUrl: webhookProxyUrl })];
    } catch (error) {
      return [502, renderErrorPage("Could not fetch the new App's credentials", describeConversionFailure(error))];
    } finally {
      converting = false;
    }
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://setup.invalid");
    if (req.method === "GET" && url.pathname === "/ping") {
      res.writeHead(200, { "content-type": "text/plain" });
      return res.end("PONG");
    }
    if (!expectedHosts.has(hostName(req.headers.host))) {
      return send(res, 421, renderErrorPage("Wrong address", "Open this setup page at http://localhost (or the HOST setting's name)."));
    }
    if (credentialsWritten) {
      return send(
        res,
        410,
        renderErrorPage("The App is set up", "Its credentials are in .env: stop this page (Ctrl-C) and run `npm start` again."),
      );
    }
    if (req.method === "GET" && (url.pathname === "/" || url.pathname === "/probot")) {
      const state = randomBytes(16).toString("hex");
      states.set(state, Date.now() + STATE_TTL_MS);
      const cookie = `${STATE_COOKIE}=${state}; HttpOnly; SameSite=Lax; Path=/; Max-Age=${STATE_TTL_MS / 1000}`;
      return send(res, 200, setupPage(req, url, state), { "set-cookie": cookie });
    }
    if (req.method === "GET" && url.pathname === CALLBACK_PATH) {
      void callback(req, url).then(([status, html]) => send(res, status, html));
      return;
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
