// `npm start` as a newcomer meets it: without credentials, the page that creates
// the GitHub App from app.yml; with a bad setting, a message naming it; with
// credentials, a server that answers webhooks even when Modal is unreachable.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import type { Server } from "probot";
import { start } from "../../src/start.js";
import { FakeGitHub } from "../fakes/fake-github.js";
import { appEnv, eventually } from "../support/app-harness.js";
import { freePort } from "../support/free-port.js";

describe("without App credentials", () => {
  let server: Server | undefined;
  afterEach(async () => {
    await server?.stop();
    delete process.env.NO_SMEE_SETUP;
  });

  test("npm start serves the manifest page that creates the App from app.yml", async () => {
    process.env.NO_SMEE_SETUP = "true"; // offline: no smee.io channel
    const port = await freePort();
    server = (await start({ PORT: String(port), HOST: "127.0.0.1", NO_SMEE_SETUP: "true", LOG_LEVEL: "silent" })) as Server;

    const root = await fetch(`http://127.0.0.1:${port}/`, { redirect: "manual" });
    expect(root.status).toBe(302);
    expect(root.headers.get("location")).toBe("/probot");
    const page = await (await fetch(`http://127.0.0.1:${port}/probot`)).text();
    const manifest = JSON.parse(/name="manifest" id="manifest" value='([^']+)'/.exec(page)![1]!);
    expect(manifest.default_events).toEqual(["workflow_job"]);
    expect(manifest.default_permissions).toEqual({ actions: "read", administration: "write", organization_self_hosted_runners: "write", metadata: "read", single_file: "read" });
    expect(manifest.redirect_url).toBe(`http://127.0.0.1:${port}/probot/setup`);
  });

  test("app.yml asks only for what the App needs", () => {
    const manifest = parse(readFileSync("app.yml", "utf8"));
    expect(manifest.default_events).toEqual(["workflow_job"]);
    expect(Object.keys(manifest.default_permissions).sort()).toEqual(["actions", "administration", "metadata", "organization_self_hosted_runners", "single_file"]);
  });
});

function runMain(env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  let output = "";
  const child = spawn(process.execPath, ["dist/main.js"], { env: { PATH: process.env.PATH!, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.on("data", (chunk) => (output += String(chunk)));
  child.stderr!.on("data", (chunk) => (output += String(chunk)));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, output: () => output, exited };
}

describe("the built App (dist/main.js)", () => {
  let github: FakeGitHub;
  beforeEach(async () => {
    github = await FakeGitHub.start();
  });
  afterEach(async () => {
    await github.close();
  });

  test("a missing setting stops it with a message that names the setting and the fix", async () => {
    const env = appEnv(github, await freePort(), { WEBHOOK_SECRET: "", SANDBOX_CPU: "many" });
    const main = runMain(env);
    expect(await main.exited).toBe(1);
    expect(main.output()).toContain("WEBHOOK_SECRET is required");
    expect(main.output()).toContain('SANDBOX_CPU: Invalid input: expected number, received NaN (got "many")');
    expect(main.output()).not.toContain(github.privateKey.split("\n")[1]!);
  });

  test("NODE_ENV=production without APP_ID does not fall back to the setup page", async () => {
    const main = runMain({ NODE_ENV: "production", MODAL_CONFIG_PATH: "/nonexistent" });
    expect(await main.exited).toBe(1);
    expect(main.output()).toContain("APP_ID is required");
  });

  test("it serves webhooks, and an unreachable Modal makes the job wait, with a clear reason", async () => {
    const installation = github.addInstallation({ account: "octo-org", accountType: "Organization" });
    github.addRepository({ installationId: installation.id, owner: "octo-org", name: "app" });
    const port = await freePort();
    const closedPort = await freePort();
    const main = runMain(appEnv(github, port, { MODAL_SERVER_URL: `http://127.0.0.1:${closedPort}`, LOG_LEVEL: "info" }));
    try {
      await eventually(() => main.output().includes(`"msg":"listening"`), "the App listens", 10_000);
      expect((await fetch(`http://127.0.0.1:${port}/ping`)).status).toBe(200);
      github.webhookUrl = `http://127.0.0.1:${port}/api/github/webhooks`;
      const job = github.queueJob({ owner: "octo-org", repo: "app", labels: ["modal"] });
      const delivery = await github.deliverWorkflowJob("queued", job);
      expect(delivery.status).toBe(200);
      expect(delivery.ms).toBeLessThan(1000);
      await eventually(() => main.output().includes(`"msg":"job waits for Modal"`), "the wait is logged", 30_000);
      const waiting = main.output().split("\n").find((line) => line.includes(`"msg":"job waits for Modal"`))!;
      expect(JSON.parse(waiting)).toMatchObject({ jobId: job.id, repo: "octo-org/app", reason: expect.stringMatching(/Modal UNAVAILABLE/) });
      // At most the registration minted before the outage was noticed, kept for the retry (not deleted and minted again).
      expect(github.runners().length).toBeLessThanOrEqual(1);
      expect(github.requests.filter((request) => request.method === "DELETE")).toHaveLength(0);
      expect(main.child.exitCode).toBeNull();
    } finally {
      main.child.kill("SIGTERM");
      await main.exited;
    }
  }, 60_000);
});
