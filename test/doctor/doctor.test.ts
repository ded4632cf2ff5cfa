// `npm run doctor` against the fakes: each broken permission, webhook setting and
// Modal failure a test injects shows up as a failing row with a fix; a healthy
// set-up has no failure (exit code 0).
import { spawn } from "node:child_process";
import { Status } from "nice-grpc";
import { doctorIo } from "../../src/doctor-io.js";
import type { CheckResult } from "../../src/doctor/check-result.js";
import { runDoctor } from "../../src/doctor/run-doctor.js";
import { summarizeChecks } from "../../src/doctor/summarize-checks.js";
import { loadSettings, type Settings } from "../../src/settings/load-settings.js";
import { FakeGitHub } from "@modal-github-runner/simulator/fake-github";
import { FakeModal } from "@modal-github-runner/simulator/fake-modal";
import { setHookConfig } from "@modal-github-runner/simulator/github/app-hook-config";
import { appEnv } from "../support/app-harness.js";
import { runnerConfigFile } from "../profiles/config-file.js";
import { freePort } from "../support/free-port.js";

/** The default runner image, as docker/runner/Dockerfile names it (version and digest from versions.env). */
const RUNNER_IMAGE = () => settings.runner.config.profiles[0]!.image.baseImage;
const DAY = 86_400_000;
let github: FakeGitHub;
let modal: FakeModal;
let settings: Settings;

/** One org with one repository, and the runner release the image pins (40 days old). */
function populate(fake: FakeGitHub, pinned: string): void {
  const installation = fake.addInstallation({ account: "octo-org", accountType: "Organization" });
  fake.addRepository({ installationId: installation.id, owner: "octo-org", name: "app" });
  fake.addRelease({ owner: "actions", repo: "runner", tagName: `v${pinned}`, publishedAt: new Date(Date.now() - 40 * DAY) });
}

beforeEach(async () => {
  github = await FakeGitHub.start();
  modal = new FakeModal();
  settings = loadSettings(appEnv(github, 3000, { LOG_LEVEL: "silent" }));
  modal.addApp(settings.modal.appName);
  populate(github, settings.runner.version.pinned);
});

// The CLI against an unreachable Modal spends seconds in the Modal SDK's own retries (the
// call is tried 4 times, each try fetching its token with 4 tries: ~3.5 s of backoff while
// the socket refuses at once; no setting shortens it). That is what users get, so it is
// not shortened here: the CLI is
// started before the first test and its run overlaps the in-process tests below; its test
// (last in the file) only reads what it printed.
let cliGitHub: FakeGitHub;
let cliRun: Promise<{ output: string; code: number | null }>;

beforeAll(async () => {
  cliGitHub = await FakeGitHub.start();
  populate(cliGitHub, loadSettings(appEnv(cliGitHub, 3000)).runner.version.pinned);
  const closed = await freePort();
  const child = spawn(process.execPath, ["dist/cli/doctor.js"], {
    env: { PATH: process.env.PATH!, ...appEnv(cliGitHub, 3000, { MODAL_SERVER_URL: `http://127.0.0.1:${closed}`, LOG_LEVEL: "silent" }) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk) => (output += String(chunk)));
  child.stderr.on("data", (chunk) => (output += String(chunk)));
  cliRun = new Promise((resolve) => child.on("exit", (code) => resolve({ output, code })));
});

afterAll(async () => {
  await cliRun;
  cliGitHub.assertNoViolations();
  await cliGitHub.close();
});

afterEach(async () => {
  github.assertNoViolations();
  await github.close();
  modal.close();
});

const doctor = () =>
  runDoctor(settings, doctorIo(settings, { modal: modal.client(), octokitTuning: { retryBaseMs: 5, rateLimitBaseMs: 5 } }));
const row = (results: CheckResult[], check: string) => results.find((result) => result.check === check);
const failures = (results: CheckResult[]) => results.filter((result) => result.status === "fail");

test("a healthy set-up has no failure: every check ok (the delivery log at worst a warning)", async () => {
  const results = await doctor();
  expect(failures(results)).toEqual([]);
  expect(results.map((result) => result.check)).toEqual([
    "GitHub App",
    "webhook URL",
    "webhook content type",
    "webhook secret",
    "installation octo-org",
    "runner group octo-org",
    "webhook deliveries",
    "runner version",
    "Modal",
    "profile default: image",
  ]);
  expect(results.filter((result) => result.status === "ok").length).toBeGreaterThanOrEqual(8);
  expect(summarizeChecks(results).ok).toBe(true);
});

test("failed deliveries in the App's delivery log are a warning with their status codes", async () => {
  expect(row(await doctor(), "webhook deliveries")).toMatchObject({ status: "ok" });
  github.hookDeliveries.ingressDown = true;
  const job = github.queueJob({ owner: "octo-org", repo: "app", labels: ["modal"] });
  github.webhookUrl = "http://127.0.0.1:9/unreachable";
  await github.deliverWorkflowJob("queued", job);
  expect(row(await doctor(), "webhook deliveries")).toMatchObject({
    status: "warn",
    detail: expect.stringMatching(/1 of 1 in the last 24 h failed \(status 0\)/),
  });
});

test("a missing permission fails its installation and says what to grant", async () => {
  github.addInstallation({ account: "lean-org", accountType: "Organization", permissions: { metadata: "read", administration: "write" } });
  const results = await doctor();
  expect(row(results, "installation lean-org")).toMatchObject({
    status: "fail",
    detail: expect.stringContaining("Actions: read"),
    fix: expect.stringContaining("grant Actions: read"),
  });
  expect(row(results, "installation octo-org")!.status).toBe("ok");
  expect(summarizeChecks(results)).toMatchObject({ ok: false, counts: { fail: 1 } });
});

test("RUNNER_SCOPE=org without the org runners permission fails", async () => {
  settings = loadSettings(appEnv(github, 3000, { LOG_LEVEL: "silent", RUNNER_SCOPE: "org" }));
  github.addInstallation({
    account: "repo-only-org",
    accountType: "Organization",
    permissions: { actions: "read", metadata: "read", administration: "write" },
  });
  const results = await doctor();
  expect(row(results, "installation repo-only-org")).toMatchObject({
    status: "fail",
    detail: expect.stringContaining("Self-hosted runners (organization): write"),
  });
});

test("a webhook with no secret and the form content type fails each setting", async () => {
  setHookConfig(github, { secret: undefined, content_type: "form", url: "http://localhost:3000/api/github/webhooks" });
  const results = await doctor();
  expect(row(results, "webhook secret")).toMatchObject({ status: "fail", fix: expect.stringContaining("WEBHOOK_SECRET") });
  expect(row(results, "webhook content type")).toMatchObject({ status: "fail", fix: expect.stringContaining("application/json") });
  expect(row(results, "webhook URL")).toMatchObject({ status: "fail", detail: expect.stringContaining("this machine only") });
});

test("a runner group open to selected repositories only is a warning", async () => {
  settings = loadSettings(appEnv(github, 3000, { LOG_LEVEL: "silent", RUNNER_GROUP: "modal" }));
  github.addRunnerGroup("octo-org", { id: 7, name: "modal", visibility: "selected", selectedRepositories: ["app"] });
  const results = await doctor();
  expect(row(results, "runner group octo-org")).toMatchObject({
    status: "warn",
    detail: expect.stringContaining("selected repositories only"),
  });
});

test("a runner group that does not exist fails", async () => {
  settings = loadSettings(appEnv(github, 3000, { LOG_LEVEL: "silent", RUNNER_GROUP: "nope" }));
  expect(row(await doctor(), "runner group octo-org")).toMatchObject({
    status: "fail",
    detail: expect.stringContaining('no runner group "nope"'),
  });
});

test("Modal refusing the token fails with how to get one; a missing app is only a warning", async () => {
  modal.failNext("appGetOrCreate", Status.UNAUTHENTICATED, 1, "Token is invalid");
  const refused = await doctor();
  expect(row(refused, "Modal")).toMatchObject({
    status: "fail",
    detail: expect.stringContaining("UNAUTHENTICATED"),
    fix: expect.stringContaining("MODAL_TOKEN_ID"),
  });

  settings = loadSettings(appEnv(github, 3000, { LOG_LEVEL: "silent", MODAL_APP_NAME: "not-created-yet" }));
  const missing = await doctor();
  expect(row(missing, "Modal")).toMatchObject({ status: "warn", detail: expect.stringContaining("does not exist") });
  expect(failures(missing)).toEqual([]);
});

test("an image that does not build fails its profile", async () => {
  modal.failImageBuild(RUNNER_IMAGE(), "RUN apt-get install nonexistent: exit code 100");
  expect(row(await doctor(), "profile default: image")).toMatchObject({ status: "fail", detail: expect.stringContaining("exit code 100") });
});

test("a profile's named secret missing on Modal fails with the command that creates it", async () => {
  const config = runnerConfigFile(
    ["profiles:", "  default:", "    labels: [modal]", "  gpu:", "    labels: [modal, ml]", "    secrets: [hf-token, wandb-key]", ""].join(
      "\n",
    ),
  );
  settings = loadSettings(appEnv(github, 3000, { LOG_LEVEL: "silent", RUNNER_CONFIG: config }));
  modal.addSecret("hf-token", { HF_TOKEN: "x" });
  const results = await doctor();
  expect(row(results, "profile gpu: secret hf-token")!.status).toBe("ok");
  expect(row(results, "profile gpu: secret wandb-key")).toMatchObject({
    status: "fail",
    fix: "create it: modal secret create wandb-key KEY=value",
  });
});

test("an installation on selected repositories that leaves out .github fails: the org's policy file cannot be read, its jobs are refused", async () => {
  const installation = github.addInstallation({ account: "other-org", accountType: "Organization", repositorySelection: "selected" });
  github.addRepository({ installationId: installation.id, owner: "other-org", name: "app" });
  github.addRepository({ installationId: installation.id, owner: "other-org", name: ".github", selected: false });
  const results = await doctor();
  expect(row(results, "policy file other-org")).toMatchObject({
    status: "fail",
    detail: expect.stringContaining("other-org/.github is not among the repositories the installation may read"),
    fix: expect.stringContaining("add .github to the App's repositories"),
  });
  expect(row(results, "policy file octo-org")).toBeUndefined(); // sees all its repositories
});

describe("the runner version against GitHub's latest release", () => {
  const next = () => {
    const [major, minor] = settings.runner.version.pinned.split(".").map(Number) as [number, number];
    return `${major}.${minor + 1}.0`;
  };
  const publish = (version: string, daysAgo: number) =>
    github.addRelease({ owner: "actions", repo: "runner", tagName: `v${version}`, publishedAt: new Date(Date.now() - daysAgo * DAY) });

  test("the image's runner is the latest: ok", async () => {
    expect(row(await doctor(), "runner version")?.status).toBe("ok");
  });

  test("a newer release: a warning that says what to pin", async () => {
    publish(next(), 5);
    expect(row(await doctor(), "runner version")).toMatchObject({
      status: "warn",
      fix: expect.stringContaining(`ghcr.io/actions/actions-runner:${next()}`),
    });
  });

  test("close to GitHub's 30 days: a failure", async () => {
    publish(next(), 26);
    expect(row(await doctor(), "runner version")?.status).toBe("fail");
  });

  test("RUNNER_VERSION=latest builds for the newest release: ok", async () => {
    publish(next(), 26);
    settings = loadSettings(appEnv(github, 3000, { LOG_LEVEL: "silent", RUNNER_VERSION: "latest" }));
    expect(row(await doctor(), "runner version")?.status).toBe("ok");
  });

  test("no release to read (GitHub Enterprise Server): a warning, not a failure", async () => {
    github.releases.clear();
    expect(row(await doctor(), "runner version")?.status).toBe("warn");
  });
});

test("the CLI prints the table and exits 1 when Modal is unreachable", async () => {
  const { output, code } = await cliRun; // started in beforeAll
  expect(output).toMatch(/^CHECK\s+STATUS\s+DETAIL/m);
  expect(Math.max(...output.split("\n").map((line) => line.length))).toBeLessThanOrEqual(100);
  expect(output).toMatch(/^GitHub App\s+OK/m);
  expect(output).toMatch(/^Modal\s+FAIL\s+cannot reach Modal/m);
  expect(output).not.toContain(cliGitHub.privateKey.split("\n")[1]!);
  expect(code).toBe(1);
}, 60_000);
