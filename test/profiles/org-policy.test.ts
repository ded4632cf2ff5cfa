// An org's .github/modal-runner.yml (and a repository's own) narrows the operator's
// policy: allowed repositories, allowed profiles, lower caps. It never widens it. Its
// `_extends` chain is merged. A file that does not exist narrows nothing; one that is
// invalid, too big or unreadable means that org (or repository) is not served until
// it reads: one error line, and no sandbox.
import { attachSimulatedRunners, type SimulatedRunners } from "@modal-github-runner/simulator/simulated-runner";
import { eventually, settled, startWorld, type RunningApp, type World } from "../support/app-harness.js";
import { FastForwardClock } from "../support/fast-forward-clock.js";
import { linesWith, outcomes } from "../support/outcomes.js";
import { runnerConfigFile } from "./config-file.js";

let world: World;
let app: RunningApp;
let runners: SimulatedRunners | undefined;

const OPERATOR_CONFIG = [
  "caps:",
  "  perInstallation: 3",
  "profiles:",
  "  default:",
  "    labels: [modal]",
  "  large:",
  "    labels: [modal, large]",
  "",
].join("\n");

beforeEach(async () => {
  world = await startWorld();
  const installation = world.github.addInstallation({ account: "octo-org", accountType: "Organization" });
  for (const name of [".github", "app", "web"]) world.github.addRepository({ installationId: installation.id, owner: "octo-org", name });
  app = await world.startApp({ RUNNER_CONFIG: runnerConfigFile(OPERATOR_CONFIG) });
});

afterEach(async () => {
  runners?.stop();
  world.github.assertNoViolations();
  await world.close();
});

const orgPolicy = (yaml: string) => world.github.addFile("octo-org", ".github", ".github/modal-runner.yml", yaml);
const repoPolicy = (repo: string, yaml: string) => world.github.addFile("octo-org", repo, ".github/modal-runner.yml", yaml);

async function deliver(repo: string, labels = ["self-hosted", "modal"]) {
  const job = world.github.queueJob({ owner: "octo-org", repo, labels });
  await world.github.deliverWorkflowJob("queued", job);
  await settled(world);
  return job;
}

const started = (jobId: number) => world.modal.sandboxes().some((sandbox) => sandbox.tags.job_id === String(jobId));
const refusals = () => outcomes(app, { kind: "refused" }).map((outcome) => outcome.reason);

test("the org allows only some repositories", async () => {
  orgPolicy("repositories: [app]\n");
  const allowed = await deliver("app");
  const refused = await deliver("web");
  expect(started(allowed.id)).toBe(true);
  expect(started(refused.id)).toBe(false);
  expect(refusals()).toEqual(["octo-org/web is not among the repositories octo-org's .github/modal-runner.yml allows"]);
});

test("the org allows only some profiles", async () => {
  orgPolicy("profiles: [default]\n");
  expect(started((await deliver("app")).id)).toBe(true);
  const large = await deliver("app", ["modal", "large"]);
  expect(started(large.id)).toBe(false);
  expect(refusals()).toEqual([expect.stringContaining("no runner profile covers the labels [modal, large] (profiles: default [modal])")]);
});

test("the org sets a lower cap: the second job waits", async () => {
  orgPolicy("caps:\n  total: 1\n");
  const runnerClock = new FastForwardClock(); // the first job's run time is skipped, not waited for
  runners = attachSimulatedRunners(world.modal, world.github, { clock: runnerClock, bootDelayMs: 10, jobDurationMs: 300 });
  const first = await deliver("app");
  const second = await deliver("web");
  expect(started(first.id)).toBe(true);
  expect(started(second.id)).toBe(false);
  expect(outcomes(app, { kind: "waiting" })).toEqual([
    expect.objectContaining({ jobId: second.id, reason: "cap reached: per installation (1/1)" }),
  ]);
  await eventually(() => world.github.jobs().find((job) => job.id === first.id)?.status === "in_progress", "the first job runs");
  expect(started(second.id)).toBe(false);
  await runnerClock.advance(300);
  await eventually(() => started(second.id), "the second job starts when the first is done");
});

test("a repository's own file narrows the org's further", async () => {
  orgPolicy("repositories: [app, web]\n");
  repoPolicy("web", "profiles: [default]\n");
  expect(started((await deliver("app", ["modal", "large"])).id)).toBe(true);
  expect(started((await deliver("web")).id)).toBe(true);
  const large = await deliver("web", ["modal", "large"]);
  expect(started(large.id)).toBe(false);
  expect(refusals()).toEqual([expect.stringContaining("no runner profile covers the labels [modal, large] (profiles: default [modal])")]);
});

test("a file that tries to widen the operator's policy gets only the narrowing part", async () => {
  orgPolicy("profiles: [default, gpu-xl]\ncaps:\n  total: 500\n  perRepository: 1\n");
  runners = attachSimulatedRunners(world.modal, world.github, { bootDelayMs: 10, jobDurationMs: 300 });
  const first = await deliver("app");
  const second = await deliver("app");
  expect(started(first.id)).toBe(true);
  expect(started(second.id)).toBe(false); // perRepository 1 applies
  const warnings = linesWith(app, { component: "policy", level: 40, file: "octo-org/.github/.github/modal-runner.yml" }).map(
    (line) => line.problem,
  );
  expect(warnings.sort()).toEqual(["caps.total 500 is above the operator's 3", 'profile "gpu-xl" is not offered']);
});

/** The error lines about policy files (one per failure): matched on their fields. */
const unreadable = () => app.logs.lines.filter((line) => line.component === "policy" && line.level === 50 && typeof line.file === "string");

test.each([
  ["a schema error", "caps:\n  total: lots\n", /is invalid: caps.total: Invalid input: expected number/],
  ["an unknown key", "runners: 5\n", /is invalid: runners: unknown key/],
  ["broken YAML", "repositories: [app\n", /invalid YAML/],
  ["a list instead of a mapping", "- app\n", /not a YAML mapping/],
])("an org file with %s stops the org's jobs, with one logged error", async (_name, yaml, problem) => {
  orgPolicy(yaml);
  const first = await deliver("web");
  const second = await deliver("app");
  expect(started(first.id) || started(second.id)).toBe(false);
  expect(unreadable()).toEqual([
    expect.objectContaining({ level: 50, file: "octo-org/.github/.github/modal-runner.yml", problem: expect.stringMatching(problem) }),
  ]);
  expect(refusals()).toHaveLength(2);
});

test("a repository's invalid file stops only that repository", async () => {
  repoPolicy("web", "profiles: default\n");
  expect(started((await deliver("app")).id)).toBe(true);
  expect(started((await deliver("web")).id)).toBe(false);
  expect(unreadable()).toEqual([expect.objectContaining({ file: "octo-org/web/.github/modal-runner.yml" })]);
});

test.each([
  [403, /the App may not read it \(403\)/],
  [502, /GitHub answered 502/],
])("an org file GitHub answers %d for stops the org's jobs (not 'operator policy only')", async (status, problem) => {
  orgPolicy("repositories: [app]\n");
  // Every read fails (5xx answers are retried first): the org's file and the repository's.
  world.github.failNext({ method: "GET", route: "/repos/{owner}/{repo}/contents/{path}" }, { status, body: { message: "no" } }, 100);
  const job = await deliver("web");
  expect(started(job.id)).toBe(false);
  expect(unreadable()).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ file: "octo-org/.github/.github/modal-runner.yml", problem: expect.stringMatching(problem) }),
    ]),
  );
});

test("a file that does not exist narrows nothing", async () => {
  expect(started((await deliver("web")).id)).toBe(true);
  expect(unreadable()).toEqual([]);
});

test("a 20 MB policy file is refused from its size, before it is parsed", async () => {
  orgPolicy(`repositories: [app]\n# ${"x".repeat(20 * 1024 * 1024)}\n`);
  const job = await deliver("app");
  expect(started(job.id)).toBe(false);
  expect(unreadable()).toEqual([expect.objectContaining({ problem: expect.stringMatching(/^\d+ bytes, over 64 KB/) })]);
});

test("the whole _extends chain is merged, the extending file's keys winning", async () => {
  world.github.addRepository({ installationId: world.github.installations()[0]!.id, owner: "octo-org", name: "policies" });
  orgPolicy("_extends: policies\nprofiles: [default]\n");
  world.github.addFile(
    "octo-org",
    "policies",
    ".github/modal-runner.yml",
    "_extends: octo-org/policies:base.yml\nprofiles: [default, large]\n",
  );
  world.github.addFile("octo-org", "policies", "base.yml", "repositories: [app]\n");
  expect(started((await deliver("app")).id)).toBe(true);
  expect(started((await deliver("web")).id)).toBe(false); // repositories from the base file
  expect(started((await deliver("app", ["modal", "large"])).id)).toBe(false); // profiles from the org's own file
  expect(unreadable()).toEqual([]);
});

test.each([
  ["a cycle", "_extends: .github\nrepositories: [app]\n", /_extends cycle/],
  [
    "a missing target",
    "_extends: nowhere\nrepositories: [app]\n",
    /extends octo-org\/nowhere\/.github\/modal-runner.yml, which does not exist/,
  ],
  ["a malformed value", "_extends: [a, b]\n", /_extends \["a","b"\] is not/],
])("an _extends with %s stops the org's jobs", async (_name, yaml, problem) => {
  orgPolicy(yaml);
  expect(started((await deliver("app")).id)).toBe(false);
  expect(unreadable()).toEqual([expect.objectContaining({ problem: expect.stringMatching(problem) })]);
});

test("a file over 64 KB is refused from the size GitHub reports", async () => {
  orgPolicy(`repositories: [app]\n# ${"x".repeat(100 * 1024)}\n`);
  expect(started((await deliver("app")).id)).toBe(false);
  expect(unreadable()).toEqual([expect.objectContaining({ problem: expect.stringMatching(/^10\d{4} bytes, over 64 KB/) })]);
});

test("policy files are read once for several jobs of several repositories (the operator caps at 3)", async () => {
  orgPolicy("repositories: [app, web]\n");
  for (const repo of ["app", "web", "app"]) expect(started((await deliver(repo)).id)).toBe(true);
  const reads = world.github.requests
    .filter((request) => request.route === "/repos/{owner}/{repo}/contents/{path}")
    .map((request) => request.path);
  // The org's file once, each repository's (absent) file once.
  expect(reads.sort()).toEqual([
    "/repos/octo-org/.github/contents/.github/modal-runner.yml",
    "/repos/octo-org/app/contents/.github/modal-runner.yml",
    "/repos/octo-org/web/contents/.github/modal-runner.yml",
  ]);
});

test("an installation that granted no file permission has no policy files: the operator's policy applies, with a warning", async () => {
  const other = world.github.addInstallation({
    account: "other-org",
    accountType: "Organization",
    permissions: { actions: "read", administration: "write", metadata: "read", organization_self_hosted_runners: "write" },
  });
  world.github.addRepository({ installationId: other.id, owner: "other-org", name: "api" });
  world.github.addFile("other-org", ".github", ".github/modal-runner.yml", "repositories: [nothing]\n");
  const job = world.github.queueJob({ owner: "other-org", repo: "api", labels: ["self-hosted", "modal"] });
  await world.github.deliverWorkflowJob("queued", job);
  await settled(world);
  expect(started(job.id)).toBe(true);
  expect(unreadable()).toEqual([]);
  expect(linesWith(app, { component: "policy", level: 40, problem: "not granted" })).toHaveLength(1);
});

// Issue 14: GitHub answers 404 for a repository the installation was not given, as for
// one that does not exist. An org whose installation covers selected repositories and
// leaves out .github may have a policy file the App cannot see: it is refused (fail
// closed), with the fix in the reason, until .github is added.
describe("the org's .github repository and the installation's repositories", () => {
  async function orgWith(selection: "all" | "selected", github: "visible" | "hidden" | "none") {
    const installation = world.github.addInstallation({
      account: "other-org",
      accountType: "Organization",
      repositorySelection: selection,
    });
    world.github.addRepository({ installationId: installation.id, owner: "other-org", name: "app" });
    if (github !== "none")
      world.github.addRepository({ installationId: installation.id, owner: "other-org", name: ".github", selected: github === "visible" });
    if (github !== "none") world.github.addFile("other-org", ".github", ".github/modal-runner.yml", "repositories: [web]\n");
    const job = world.github.queueJob({ owner: "other-org", repo: "app", labels: ["self-hosted", "modal"] });
    await world.github.deliverWorkflowJob("queued", job);
    await settled(world);
    return job;
  }

  test.each([
    ["all repositories, no .github", "all", "none", true],
    ["selected repositories, no .github visible (it may exist)", "selected", "none", false],
    ["selected repositories, .github left out (it holds a policy file)", "selected", "hidden", false],
    ["selected repositories, .github among them (its file leaves app out)", "selected", "visible", false],
  ] as const)("%s (repositories: %s, .github: %s): served %s", async (_case, selection, github, served) => {
    const job = await orgWith(selection, github);
    expect(started(job.id)).toBe(served);
    if (github !== "visible" && !served)
      expect(refusals()).toEqual([
        "policy file other-org/.github/.github/modal-runner.yml is in other-org/.github, which the App's installation may not read (it was given selected repositories only): add .github to the installation's repositories (create it first if other-org has none); not served until it reads",
      ]);
  });

  test("an org's first job reads what its policy needs two requests at a time, not one after the other", async () => {
    const latencyMs = 200;
    world.github.latencyMs = latencyMs;
    const job = await orgWith("all", "none");
    expect(started(job.id)).toBe(true);
    const arrived = (path: string) => world.github.requests.find((request) => request.path === path)!.at;
    const together = (a: string, b: string) => Math.abs(arrived(a) - arrived(b));
    // The org's file and the repository's file at once; then, the org's answering 404, the
    // .github repository and the installation's repository selection at once.
    expect(
      together("/repos/other-org/.github/contents/.github/modal-runner.yml", "/repos/other-org/app/contents/.github/modal-runner.yml"),
    ).toBeLessThan(latencyMs / 2);
    expect(together("/repos/other-org/.github", "/installation/repositories")).toBeLessThan(latencyMs / 2);
  });
});
