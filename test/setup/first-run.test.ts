// First run: the setup page that creates the App from its manifest, and the .env it
// writes, read back by npm start and docker run --env-file. One file (one load of the
// modules) for these cases.
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { parseEnv } from "node:util";
import { start } from "../../src/start.js";
import type { ListeningServer } from "../../src/setup/listening-server.js";
import { FakeGitHub } from "@modal-github-runner/simulator/fake-github";
import { FakeModal } from "@modal-github-runner/simulator/fake-modal";
import { manifestCode } from "@modal-github-runner/simulator/github/app-manifest-conversions";
import { MODAL_TOKEN_SECRET, eventually } from "../support/app-harness.js";
import { freePort } from "../support/free-port.js";
import { appKey } from "@modal-github-runner/simulator/github/app-key";
import { loadDotenv } from "../../src/setup/load-dotenv.js";
import { updateDotenv } from "../../src/setup/update-dotenv.js";
import { loadSettings } from "../../src/settings/load-settings.js";

// The whole first run, as a newcomer meets it: `npm start` with no credentials shows
// the setup page; GitHub creates the App and redirects back with a code; the
// callback writes `.env`; the next start reads `.env` (with the same loadDotenv
// `npm start` uses) and serves a queued job. Everything happens in a fresh directory.
describe("first run", () => {
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
    const loaded = await fetch(`http://127.0.0.1:${setupPort}/?name=acme-modal-runners`);
    const cookie = loaded.headers.get("set-cookie")!.split(";")[0]!; // the browser's: state is bound to it
    const page = await loaded.text();
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
    const created = await fetch(`${manifest.redirect_url}?code=${manifestCode(github)}&state=${state}`, { headers: { cookie } });
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
      // One line with literal \n (Docker's --env-file reads it the same; Probot's key reader restores the newlines).
      PRIVATE_KEY: github.privateKey.trim().replace(/\n/g, "\\n"),
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

  describe("the setup page trusts no one it did not meet", () => {
    let port: number;
    const conversions = () => github.requests.filter((request) => request.route === "/app-manifests/{code}/conversions");

    beforeEach(async () => {
      port = await freePort();
      servers.push(await start({ GHE_HOST: github.host, GHE_PROTOCOL: "http", PORT: String(port), LOG_LEVEL: "silent" }, { cwd: dir }));
    });

    /** A GET with a Host header of our choosing (fetch does not let one set it). */
    function getWithHost(
      pathAndQuery: string,
      host: string,
      cookie?: string,
    ): Promise<{ status: number; body: string; setCookie?: string }> {
      return new Promise((resolve, reject) => {
        const req = http.get({ host: "127.0.0.1", port, path: pathAndQuery, headers: { host, ...(cookie ? { cookie } : {}) } }, (res) => {
          let body = "";
          res.on("data", (chunk) => (body += String(chunk)));
          res.on("end", () => resolve({ status: res.statusCode!, body, setCookie: res.headers["set-cookie"]?.[0] }));
        });
        req.on("error", reject);
      });
    }

    async function loadPage(): Promise<{ state: string; cookie: string; homepage: string }> {
      const loaded = await fetch(`http://127.0.0.1:${port}/probot?name=Acme%20Runners`);
      expect(loaded.status).toBe(200);
      const cookie = loaded.headers.get("set-cookie")!;
      expect(cookie).toMatch(/HttpOnly/);
      const { action, manifest } = formOf(await loaded.text());
      return { state: new URL(action).searchParams.get("state")!, cookie: cookie.split(";")[0]!, homepage: manifest.url };
    }

    test("a foreign Host (DNS rebinding) gets no page and no state", async () => {
      const foreign = await getWithHost("/", `attacker.example:${port}`);
      expect(foreign.status).toBe(421);
      expect(foreign.setCookie).toBeUndefined();
      expect(foreign.body).not.toMatch(/state=/);
      expect((await getWithHost("/", `localhost:${port}`)).status).toBe(200);
      expect((await getWithHost("/", `[::1]:${port}`)).status).toBe(200);
    });

    test("the manifest's homepage is the chosen App's own page on GitHub", async () => {
      const { homepage } = await loadPage();
      expect(homepage).toBe(`http://${github.host}/github-apps/acme-runners`);
    });

    test("a state is bound to the browser that loaded the page, and used once; a second callback cannot rewrite .env", async () => {
      const first = await loadPage();
      const second = await loadPage();
      // Another browser (no cookie, or another page's cookie) cannot use the state.
      expect((await fetch(`http://127.0.0.1:${port}/setup/callback?code=${manifestCode(github)}&state=${first.state}`)).status).toBe(400);
      const crossed = await fetch(`http://127.0.0.1:${port}/setup/callback?code=${manifestCode(github)}&state=${first.state}`, {
        headers: { cookie: second.cookie },
      });
      expect(crossed.status).toBe(400);
      expect(conversions()).toHaveLength(0);

      const created = await fetch(`http://127.0.0.1:${port}/setup/callback?code=${manifestCode(github)}&state=${first.state}`, {
        headers: { cookie: first.cookie },
      });
      expect(created.status).toBe(200);
      const written = readFileSync(path.join(dir, ".env"), "utf8");

      // Replayed, or with the other page's own state: the page has stopped serving.
      const replayed = await fetch(`http://127.0.0.1:${port}/setup/callback?code=${manifestCode(github)}&state=${first.state}`, {
        headers: { cookie: first.cookie },
      });
      const other = await fetch(`http://127.0.0.1:${port}/setup/callback?code=${manifestCode(github)}&state=${second.state}`, {
        headers: { cookie: second.cookie },
      });
      expect([replayed.status, other.status]).toEqual([410, 410]);
      expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(410);
      expect(readFileSync(path.join(dir, ".env"), "utf8")).toBe(written);
      expect(conversions()).toHaveLength(1);
    });

    test("a replayed state is refused even before credentials are written", async () => {
      const page = await loadPage();
      github.failNext({ method: "POST", route: "/app-manifests/{code}/conversions" }, { status: 500 });
      const url = `http://127.0.0.1:${port}/setup/callback?code=${manifestCode(github)}&state=${page.state}`;
      const failed = await fetch(url, { headers: { cookie: page.cookie } });
      expect(failed.status).toBe(502);
      expect(await failed.text()).toContain("GitHub answered 500");
      expect((await fetch(url, { headers: { cookie: page.cookie } })).status).toBe(400);
      expect(conversions()).toHaveLength(1);
      expect(() => statSync(path.join(dir, ".env"))).toThrow();
    });
  });

  test("when GitHub cannot be reached, the callback says so, quickly", async () => {
    const closedPort = await freePort(); // nothing listens there
    const port = await freePort();
    servers.push(
      await start({ GHE_HOST: `127.0.0.1:${closedPort}`, GHE_PROTOCOL: "http", PORT: String(port), LOG_LEVEL: "silent" }, { cwd: dir }),
    );
    const loaded = await fetch(`http://127.0.0.1:${port}/`);
    const cookie = loaded.headers.get("set-cookie")!.split(";")[0]!;
    const state = new URL(formOf(await loaded.text()).action).searchParams.get("state")!;
    const startedAt = Date.now();
    const answer = await fetch(`http://127.0.0.1:${port}/setup/callback?code=any&state=${state}`, { headers: { cookie } });
    expect(Date.now() - startedAt).toBeLessThan(5_000);
    expect(answer.status).toBe(502);
    const page = await answer.text();
    expect(page).toContain("GitHub could not be reached (");
    expect(page).not.toContain("GitHub answered");
  });
});

// .env as `npm start` reads and the setup page writes it: what the page writes reads
// back unchanged (a PEM on one line, with literal \n), other lines are kept, the file
// is the owner's only, and a variable already in the environment wins over the file.
// The same file works with `docker run --env-file .env` (DEPLOY.md): read the way
// Docker reads it (one KEY=VALUE a line, the value taken literally), the App's
// settings load from it with the right key and secrets.
describe("dotenv", () => {
  const PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEabc+/=\nxyz\n-----END RSA PRIVATE KEY-----\n";
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "dotenv-"));
  });

  test("values written read back unchanged; other lines, even Probot's multi-line key, are handled", () => {
    const file = path.join(dir, ".env");
    writeFileSync(
      file,
      `# notes\nLOG_LEVEL=debug\nPRIVATE_KEY="-----BEGIN RSA PRIVATE KEY-----\nold\n-----END RSA PRIVATE KEY-----"\nAPP_ID=1\n`,
    );
    updateDotenv(file, { APP_ID: "42", PRIVATE_KEY: PEM, WEBHOOK_SECRET: "it's a secret", GITHUB_CLIENT_SECRET: 'say "hi"' });
    const env: Record<string, string | undefined> = {};
    expect(loadDotenv(dir, env).sort()).toEqual(["APP_ID", "GITHUB_CLIENT_SECRET", "LOG_LEVEL", "PRIVATE_KEY", "WEBHOOK_SECRET"]);
    expect(env).toEqual({
      LOG_LEVEL: "debug",
      APP_ID: "42",
      PRIVATE_KEY: PEM.trim().replace(/\n/g, "\\n"),
      WEBHOOK_SECRET: "it's a secret",
      GITHUB_CLIENT_SECRET: 'say "hi"',
    });
    expect(readFileSync(file, "utf8")).toMatch(/^# notes\n/);
    expect(
      readFileSync(file, "utf8")
        .split("\n")
        .filter((line) => line.startsWith("PRIVATE_KEY")),
    ).toHaveLength(1);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  test("the environment wins over .env; a missing .env is no error", () => {
    writeFileSync(path.join(dir, ".env"), "PORT=4000\nHOST=127.0.0.1\n");
    const env: Record<string, string | undefined> = { PORT: "5000" };
    expect(loadDotenv(dir, env)).toEqual(["HOST"]);
    expect(env).toEqual({ PORT: "5000", HOST: "127.0.0.1" });
    expect(loadDotenv(path.join(dir, "nowhere"), env)).toEqual([]);
  });

  /** What `docker run --env-file` does with a file: one KEY=VALUE a line, comments and blank lines skipped, no quote removal, no escapes. */
  function parseLikeDocker(text: string): Record<string, string> {
    const env: Record<string, string> = {};
    for (const raw of text.split("\n")) {
      const line = raw.trimStart();
      if (line === "" || line.startsWith("#")) continue;
      const at = line.indexOf("=");
      if (at === -1) continue; // Docker passes the host's value through: not used here
      env[line.slice(0, at)] = line.slice(at + 1);
    }
    return env;
  }

  test("the .env the setup page writes works as it is with docker run --env-file: the App's settings load from it", async () => {
    // A real PKCS#1 key, as GitHub hands out (the simulator's cached one: generating one costs a few hundred ms).
    const { privateKey } = await appKey();
    const file = path.join(dir, ".env");
    // What the setup page's callback writes (setup-server.ts), with GitHub's kinds of values.
    updateDotenv(file, {
      APP_ID: "123456",
      PRIVATE_KEY: privateKey,
      WEBHOOK_SECRET: "5d2f0c3e9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d",
      GITHUB_CLIENT_ID: "Iv23liAbCdEfGh123456",
      GITHUB_CLIENT_SECRET: "0123456789abcdef0123456789abcdef01234567",
    });
    const text = readFileSync(file, "utf8");
    expect(text).not.toMatch(/^[A-Z_]+=["']/m); // no quotes for Docker to keep
    const docker = parseLikeDocker(text);
    const modal = { MODAL_TOKEN_ID: "ak-x", MODAL_TOKEN_SECRET: "as-x", MODAL_CONFIG_PATH: "/nonexistent/modal.toml" };
    const settings = loadSettings({ ...docker, ...modal }, process.cwd()); // the image runs from the repository root
    expect(settings.github.privateKey.trim()).toBe(privateKey.trim());
    expect(settings.github.appId).toBe(123456);
    expect(settings.github.webhookSecret).toBe("5d2f0c3e9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d");
    // And npm start (parseEnv) reads the same values.
    const node: Record<string, string | undefined> = {};
    loadDotenv(dir, node);
    expect(node).toEqual(docker);
  });
});
