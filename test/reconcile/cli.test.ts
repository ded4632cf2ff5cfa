// `npm run reconcile`: one pass without a server, for cron and serverless deployments.
import { spawn } from "node:child_process";
import { reconcileOnce } from "../../src/cli/reconcile-once.js";
import { loadSettings } from "../../src/settings/load-settings.js";
import { FakeGitHub } from "@modal-github-runner/simulator/fake-github";
import { FakeModal } from "@modal-github-runner/simulator/fake-modal";
import { appEnv } from "../support/app-harness.js";
import { LogCapture } from "../support/log-capture.js";
import { FAST_RECONCILE } from "./reconcile-world.js";

let github: FakeGitHub;
let modal: FakeModal;

/** Runs the built CLI to its end, collecting what it printed. */
function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["dist/cli/reconcile.js", ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += String(chunk)));
    child.stderr.on("data", (chunk) => (stderr += String(chunk)));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

// The two runs of the built CLI are started before the first test and run side by side,
// alongside the in-process test (each is a second of loading modules); their test only
// reads what they printed.
let cliGitHub: FakeGitHub;
let cliRuns: Promise<[help: Awaited<ReturnType<typeof runCli>>, bad: Awaited<ReturnType<typeof runCli>>]>;

beforeAll(async () => {
  cliGitHub = await FakeGitHub.start();
  const badEnv = { PATH: process.env.PATH!, ...appEnv(cliGitHub, 3000, { RECONCILE_INTERVAL: "often" }) };
  cliRuns = Promise.all([runCli(["--help"], { PATH: process.env.PATH! }), runCli([], badEnv)]);
});

afterAll(async () => {
  await cliRuns;
  await cliGitHub.close();
});

beforeEach(async () => {
  github = await FakeGitHub.start();
  modal = new FakeModal();
});

afterEach(async () => {
  github.assertNoViolations();
  await github.close();
  modal.close();
});

test("one pass serves a lost job, waits for its sandbox and returns the summary", async () => {
  const installation = github.addInstallation({ account: "octo-org", accountType: "Organization" });
  github.addRepository({ installationId: installation.id, owner: "octo-org", name: "app" });
  const job = github.queueJob({ owner: "octo-org", repo: "app", labels: ["self-hosted", "modal"] });
  const logs = new LogCapture();

  const summary = await reconcileOnce(loadSettings(appEnv(github, 3000, FAST_RECONCILE)), {
    full: true,
    modal: modal.client(),
    logDestination: logs,
    octokitTuning: { retryBaseMs: 5, rateLimitBaseMs: 5 },
  });

  expect(summary).toMatchObject({ ok: true, full: true, reason: "cli", repaired: { "serve-unserved-job": 1 } });
  expect(modal.running()).toEqual([expect.objectContaining({ name: `modal-${job.id}-0` })]);
  // One summary line (known by its fields), as in the App.
  expect(logs.lines.filter((line) => line.component === "reconcile" && typeof line.checked === "object")).toEqual([
    expect.objectContaining({ reason: "cli", full: true }),
  ]);
});

test("the command prints its usage, and stops on a bad setting with a message naming it", async () => {
  const [help, bad] = await cliRuns; // started in beforeAll
  expect(help.status).toBe(0);
  expect(help.stdout).toContain("--full");

  expect(bad.status).toBe(1);
  expect(bad.stderr).toContain("RECONCILE_INTERVAL");
});
