// `npm start` with credentials: the built App (dist/main.js) serves webhooks even when
// Modal is unreachable, the job waits with a clear reason, and SIGTERM stops it cleanly.
// Modal at a closed port: each call fails only after the SDK's own retries (about
// 3.5 s), so the App is told to try each call twice (MODAL_CALL_ATTEMPTS) instead of
// five times, and to drain for 1 s (SHUTDOWN_TIMEOUT) instead of 8 s: the same path,
// without 25 s of waiting.
import { FakeGitHub } from "@modal-github-runner/simulator/fake-github";
import { appEnv, eventually } from "../support/app-harness.js";
import { freePort } from "../support/free-port.js";
import { runMain } from "../support/run-main.js";

describe("the built App (dist/main.js) with credentials", () => {
  let github: FakeGitHub;
  beforeEach(async () => {
    github = await FakeGitHub.start();
  });
  afterEach(async () => {
    await github.close();
  });

  test("it serves webhooks, and an unreachable Modal makes the job wait, with a clear reason", async () => {
    const installation = github.addInstallation({ account: "octo-org", accountType: "Organization" });
    github.addRepository({ installationId: installation.id, owner: "octo-org", name: "app" });
    const port = await freePort();
    const closedPort = await freePort();
    const main = runMain(
      appEnv(github, port, {
        MODAL_SERVER_URL: `http://127.0.0.1:${closedPort}`,
        MODAL_CALL_ATTEMPTS: "2",
        SHUTDOWN_TIMEOUT: "1s",
        LOG_LEVEL: "info",
      }),
    );
    try {
      await eventually(() => main.output().includes(`"msg":"listening"`), "the App listens", 10_000);
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
    expect(JSON.parse(shutdown)).toMatchObject({ signal: "SIGTERM", component: "main", drainTimeoutMs: 1000 });
  }, 30_000);
});
