// The whole first run, as a newcomer meets it: `npm start` with no credentials shows
// the setup page; GitHub creates the App and redirects back with a code; the
// callback writes `.env`; the next start reads `.env` (with the same loadDotenv
// `npm start` uses) and serves a queued job. Everything happens in a fresh directory.
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseEnv } from "node:util";
import { start } from "../../src/start.js";
import type { ListeningServer } from "../../src/setup/listening-server.js";
import { FakeGitHub } from "@modal-github-runner/simulator/fake-github";
import { FakeModal } from "@modal-github-runner/simulator/fake-modal";
import { manifestCode } from "@modal-github-runner/simulator/github/app-manifest-conversions";
import { eventually, MODAL_TOKEN_SECRET } from "../support/app-harness.js";
import { freePort } from "../support/free-port.js";

const DOCKERFILE = path.resolve("docker/runner/Dockerfile");

let github: FakeGitHub;
let modal: FakeModal;
let dir: string;
const servers: ListeningServer[] = [];

beforeEach(async () => {
  github = await FakeGitHub.start();
  modal = new FakeModal();
  dir = mkdtempSync(path.join(os.tmpdir(), "first-run-"));
});

afterEach(async () => {
  for (const server of servers.splice(0)) await server.shutdown(1000);
  github.assertNoViolations();
  await github.close();
  modal.close();
});

function formOf(page: string): { action: string; manifest: Record<string, any> } {
  const action = /<form method="post" action="([^"]+)"/.exec(page)![1]!.replace(/&amp;/g, "&");
  const value = /name="manifest" id="manifest" value="([^"]+)"/.exec(page)![1]!;
  const manifest = JSON.parse(
    value
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&lt;/g, "<")
      .replace(/&gt;/g, ">")
      .replace(/&amp;/g, "&"),
  );
  return { action, manifest };
}

test("setup page → GitHub's redirect with a code → .env written → the next start serves a queued job", async () => {
  const gheEnv = { GHE_HOST: github.host, GHE_PROTOCOL: "http" };
  writeFileSync(path.join(dir, ".env"), "# my own notes stay\nRUNNER_LABEL=modal\n");

  // 1. No credentials: the setup page.
  const setupPort = await freePort();
  const setup = await start({ ...gheEnv, PORT: String(setupPort), LOG_LEVEL: "silent" }, { cwd: dir });
  servers.push(setup);
  const page = await (await fetch(`http://127.0.0.1:${setupPort}/?name=acme-modal-runners`)).text();
  const { action, manifest } = formOf(page);
  const state = new URL(action).searchParams.get("state")!;
  expect(action).toBe(`http://${github.host}/settings/apps/new?state=${state}`);
  expect(manifest).toMatchObject({
    name: "acme-modal-runners",
    hook_attributes: { url: `http://127.0.0.1:${setupPort}/api/github/webhooks` },
    redirect_url: `http://127.0.0.1:${setupPort}/setup/callback`,
    default_events: ["workflow_job"],
  });

  // 2. GitHub created the App and sends the browser back with a one-time code.
  const created = await fetch(`${manifest.redirect_url}?code=${manifestCode(github)}&state=${state}`);
  expect(created.status).toBe(200);
  const next = await created.text();
  expect(next).toContain(`http://${github.host}/apps/${github.appSlug}/installations/new`);
  expect(next).toContain("MODAL_TOKEN_ID");
  expect(next).toContain("runs-on: [self-hosted, modal]");
  await setup.shutdown(1000);

  const envFile = path.join(dir, ".env");
  expect(statSync(envFile).mode & 0o777).toBe(0o600);
  const written = readFileSync(envFile, "utf8");
  expect(written).toContain("# my own notes stay");
  expect(parseEnv(written)).toMatchObject({
    APP_ID: String(github.appId),
    PRIVATE_KEY: github.privateKey,
    WEBHOOK_SECRET: github.webhookSecret,
    RUNNER_LABEL: "modal",
  });

  // 3. Restart with only the GHE and Modal settings in the environment; the rest comes from .env.
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...gheEnv,
    PORT: String(port),
    MODAL_TOKEN_ID: "ak-test",
    MODAL_TOKEN_SECRET,
    MODAL_CONFIG_PATH: "/nonexistent/modal.toml",
    RUNNER_DOCKERFILE: DOCKERFILE,
    LOG_LEVEL: "silent",
  };
  const app = await start(env, {
    cwd: dir,
    modal: modal.client(),
    reconcileOnTimer: false,
    octokitTuning: { retryBaseMs: 5, rateLimitBaseMs: 5 },
    modalRetry: { attempts: 4, baseDelayMs: 5, maxDelayMs: 20 },
  });
  servers.push(app);
  expect(app.address().address).toBe("0.0.0.0"); // all interfaces; the test connects through loopback only

  const installation = github.addInstallation({ account: "octo-org", accountType: "Organization" });
  github.addRepository({ installationId: installation.id, owner: "octo-org", name: "app" });
  github.webhookUrl = `http://127.0.0.1:${port}/api/github/webhooks`;
  const job = github.queueJob({ owner: "octo-org", repo: "app", labels: ["self-hosted", "modal"] });
  expect((await github.deliverWorkflowJob("queued", job)).status).toBe(200);
  await eventually(() => modal.running().length === 1, "a sandbox runs", 10_000);
  expect(github.runners().map((runner) => runner.name)).toEqual([modal.running()[0]!.name]);
});

test("a callback without the state of this run's setup page writes nothing", async () => {
  const port = await freePort();
  servers.push(await start({ GHE_HOST: github.host, GHE_PROTOCOL: "http", PORT: String(port), LOG_LEVEL: "silent" }, { cwd: dir }));
  const code = manifestCode(github);
  const response = await fetch(`http://127.0.0.1:${port}/setup/callback?code=${code}&state=forged`);
  expect(response.status).toBe(400);
  expect(() => statSync(path.join(dir, ".env"))).toThrow();
  expect(github.requests.filter((request) => request.route === "/app-manifests/{code}/conversions")).toHaveLength(0);
});
