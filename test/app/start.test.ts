// npm start as a newcomer meets it, and the built App's process with a bad setting or an
// unreachable Modal. One file (one load of the modules) for these cases. How an
// operator's process manager stops `npm start` (SIGTERM to npm): test/app/probot-modes.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { parse } from "yaml";
import os from "node:os";
import path from "node:path";
import type { ListeningServer } from "../../src/setup/listening-server.js";
import { SettingsError } from "../../src/settings/load-settings.js";
import { start } from "../../src/start.js";
import { FakeGitHub } from "@modal-github-runner/simulator/fake-github";
import { appEnv, eventually } from "../support/app-harness.js";
import { freePort } from "../support/free-port.js";
import { runMain } from "../support/run-main.js";

// `npm start` as a newcomer meets it: without credentials, our page that creates
// the GitHub App from app.yml (the whole first run: test/setup/first-run.test.ts); with a bad setting, a message naming it; with
// credentials, a server that answers webhooks even when Modal is unreachable.
describe("start", () => {
  describe("without App credentials", () => {
    let server: ListeningServer | undefined;
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(path.join(os.tmpdir(), "start-"));
    });
    afterEach(async () => {
      await server?.shutdown(1000);
      server = undefined;
    });

    async function setupPage(
      env: Record<string, string>,
      query = "",
    ): Promise<{ action: string; manifest: Record<string, any>; port: number; page: string }> {
      const port = await freePort();
      server = await start({ PORT: String(port), LOG_LEVEL: "silent", ...env }, { cwd: dir });
      const page = await (await fetch(`http://127.0.0.1:${port}/${query}`)).text();
      const action = /<form method="post" action="([^"]+)"/.exec(page)![1]!.replace(/&amp;/g, "&");
      const raw = /name="manifest" id="manifest" value="([^"]+)"/.exec(page)![1]!;
      return {
        action,
        manifest: JSON.parse(
          raw
            .replace(/&quot;/g, '"')
            .replace(/&#39;/g, "'")
            .replace(/&amp;/g, "&"),
        ),
        port,
        page,
      };
    }

    test("npm start serves our setup page: the manifest from app.yml, webhooks to the webhook path, on all interfaces", async () => {
      const { action, manifest, port } = await setupPage({});
      expect(server!.address().address).toBe("0.0.0.0");
      expect(action).toMatch(/^https:\/\/github\.com\/settings\/apps\/new\?state=[0-9a-f]{32}$/);
      expect(manifest.name).toBe("modal-github-runner");
      expect(manifest.default_events).toEqual(["workflow_job"]);
      expect(manifest.default_permissions).toEqual({
        actions: "read",
        administration: "write",
        organization_self_hosted_runners: "write",
        metadata: "read",
        single_file: "read",
      });
      expect(manifest.hook_attributes).toEqual({ url: `http://127.0.0.1:${port}/api/github/webhooks`, active: true });
      expect(manifest.redirect_url).toBe(`http://127.0.0.1:${port}/setup/callback`);
    });

    test("the name, the org and the webhook URL can be chosen; GHE_HOST sends the form to the Enterprise server", async () => {
      const { action, manifest } = await setupPage(
        { GHE_HOST: "github.example.com", WEBHOOK_PATH: "/hooks" },
        "?name=acme-runners&org=acme&webhook_url=https%3A%2F%2Frunners.acme.dev%2Fhooks",
      );
      expect(action).toMatch(/^https:\/\/github\.example\.com\/organizations\/acme\/settings\/apps\/new\?state=/);
      expect(manifest.name).toBe("acme-runners");
      expect(manifest.hook_attributes.url).toBe("https://runners.acme.dev/hooks");
    });

    test("APP_NAME names the App; WEBHOOK_PROXY_URL (a smee.io channel) is the webhook URL", async () => {
      const { manifest, page } = await setupPage({ APP_NAME: "my-runners", WEBHOOK_PROXY_URL: "https://smee.io/abc123" });
      expect(manifest.name).toBe("my-runners");
      expect(manifest.hook_attributes.url).toBe("https://smee.io/abc123");
      expect(page).not.toContain('id="webhook_url"');
    });

    test("app.yml asks only for what the App needs", () => {
      const manifest = parse(readFileSync("app.yml", "utf8"));
      expect(manifest.default_events).toEqual(["workflow_job"]);
      expect(Object.keys(manifest.default_permissions).sort()).toEqual([
        "actions",
        "administration",
        "metadata",
        "organization_self_hosted_runners",
        "single_file",
      ]);
    });
  });

  test("a runner config with a mistake stops it even before the App exists, with the file, line and key", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "start-"));
    writeFileSync(path.join(dir, "runner.yml"), "profiles:\n  default:\n    labels: [modal]\n    gpu: A100X\n");
    await expect(
      start(
        {
          PORT: String(await freePort()),
          LOG_LEVEL: "silent",
          RUNNER_CONFIG: "runner.yml",
          RUNNER_DOCKERFILE: path.resolve("docker/runner/Dockerfile"),
        },
        { cwd: dir },
      ),
    ).rejects.toThrow(/runner\.yml:4.*gpu|gpu.*runner\.yml:4/s);
  });

  // In-process: the same SettingsError as a missing setting, which dist/main.js prints
  // before it exits 1 (the process case below).
  test("NODE_ENV=production without APP_ID does not fall back to the setup page", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "start-"));
    const starting = start({ NODE_ENV: "production", PORT: String(await freePort()), MODAL_CONFIG_PATH: "/nonexistent" }, { cwd: dir });
    await expect(starting).rejects.toThrow(SettingsError);
    await expect(starting).rejects.toThrow("APP_ID is required");
  });
});

/** A simulated GitHub for one case, closed after it (the cases below run side by side). */
async function withGitHub(use: (github: FakeGitHub) => Promise<void>): Promise<void> {
  const github = await FakeGitHub.start();
  try {
    await use(github);
  } finally {
    await github.close();
  }
}

// The built App (dist/main.js) as a process. Each case starts its own
// and mostly waits (on a child's start-up, on Modal's retries), so they run side by
// side (test.concurrent): each brings its own simulated GitHub.
describe("the built App (dist/main.js)", () => {
  test.concurrent("a missing setting stops it with a message that names the setting and the fix", () =>
    withGitHub(async (github) => {
      const env = appEnv(github, await freePort(), { WEBHOOK_SECRET: "", SANDBOX_CPU: "many" });
      const main = runMain(env);
      expect(await main.exited).toBe(1);
      expect(main.output()).toContain("WEBHOOK_SECRET is required");
      expect(main.output()).toContain('SANDBOX_CPU: Invalid input: expected number, received NaN (got "many")');
      expect(main.output()).not.toContain(github.privateKey.split("\n")[1]!);
    }),
  );

  // With credentials it serves webhooks even when Modal is unreachable; the job waits with
  // a clear reason, and SIGTERM stops it cleanly. Modal at a closed port: each call fails
  // only after the SDK's own retries (about 3.5 s; no setting shortens those), so the App
  // is told to try each call once (MODAL_CALL_ATTEMPTS) instead of five times, and to
  // drain for 200 ms (SHUTDOWN_TIMEOUT) instead of 8 s: the same path, without 30 s of
  // waiting. (Retries with backoff, and a drain that lets a dispatch finish, are tested
  // in-process on the injected clock.)
  test.concurrent(
    "with credentials it serves webhooks, and an unreachable Modal makes the job wait, with a clear reason",
    () =>
      withGitHub(async (github) => {
        const installation = github.addInstallation({ account: "octo-org", accountType: "Organization" });
        github.addRepository({ installationId: installation.id, owner: "octo-org", name: "app" });
        const port = await freePort();
        const closedPort = await freePort();
        const main = runMain(
          appEnv(github, port, {
            MODAL_SERVER_URL: `http://127.0.0.1:${closedPort}`,
            MODAL_CALL_ATTEMPTS: "1",
            SHUTDOWN_TIMEOUT: "200ms",
            LOG_LEVEL: "info",
          }),
        );
        try {
          await eventually(() => main.output().includes(`"msg":"listening"`), "the App listens", 20_000);
          expect((await fetch(`http://127.0.0.1:${port}/ping`)).status).toBe(200);
          github.webhookUrl = `http://127.0.0.1:${port}/api/github/webhooks`;
          const job = github.queueJob({ owner: "octo-org", repo: "app", labels: ["modal"] });
          const delivery = await github.deliverWorkflowJob("queued", job);
          expect(delivery.status).toBe(200);
          expect(delivery.ms).toBeLessThan(1000);
          await eventually(() => main.output().includes(`"msg":"job waits for Modal"`), "the wait is logged", 20_000);
          const waiting = main
            .output()
            .split("\n")
            .find((line) => line.includes(`"msg":"job waits for Modal"`))!;
          expect(JSON.parse(waiting)).toMatchObject({
            jobId: job.id,
            repo: "octo-org/app",
            reason: expect.stringMatching(/Modal UNAVAILABLE/),
          });
          // At most the registration minted before the outage was noticed, kept for the retry (not deleted and minted again).
          expect(github.runners().length).toBeLessThanOrEqual(1);
          expect(github.requests.filter((request) => request.method === "DELETE")).toHaveLength(0);
          expect(main.child.exitCode).toBeNull();
        } finally {
          main.child.kill("SIGTERM");
        }
        expect(await main.exited).toBe(0);
        const shutdown = main
          .output()
          .split("\n")
          .find((line) => line.includes("shutting down"))!;
        expect(JSON.parse(shutdown)).toMatchObject({ signal: "SIGTERM", component: "main", drainTimeoutMs: 200 });
      }),
    30_000,
  );
});
