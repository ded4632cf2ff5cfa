// An org's .github/modal-runner.yml (and a repository's own) narrows the operator's
// policy: allowed repositories, allowed profiles, lower caps. It never widens it; an
// invalid file is ignored with a logged error and the rest of the policy applies.
import { attachSimulatedRunners, type SimulatedRunners } from "../fakes/simulated-runner.js";
import { eventually, settled, startWorld, type RunningApp, type World } from "../support/app-harness.js";
import { runnerConfigFile } from "./config-file.js";

let world: World;
let app: RunningApp;
let runners: SimulatedRunners | undefined;

const OPERATOR_CONFIG = ["caps:", "  perInstallation: 3", "profiles:", "  default:", "    labels: [modal]", "  large:", "    labels: [modal, large]", ""].join("\n");

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
const refusals = () => app.logs.find("job refused by policy").map((line) => line.reason);

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
  runners = attachSimulatedRunners(world.modal, world.github, { bootDelayMs: 10, jobDurationMs: 300 });
  const first = await deliver("app");
  const second = await deliver("web");
  expect(started(first.id)).toBe(true);
  expect(started(second.id)).toBe(false);
  expect(app.logs.find("job waits for capacity")).toEqual([expect.objectContaining({ jobId: second.id, cap: "per installation (1/1)" })]);
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
  const warnings = app.logs.find("policy file tries to widen the operator's policy; that part is ignored").map((line) => line.problem);
  expect(warnings.sort()).toEqual(['caps.total 500 is above the operator\'s 3', 'profile "gpu-xl" is not offered']);
});

test.each([
  ["a schema error", "caps:\n  total: lots\n", /caps.total: Invalid input: expected number/],
  ["an unknown key", "runners: 5\n", /Unrecognized key: "runners"/],
  ["broken YAML", "repositories: [app\n", /invalid YAML/],
])("an org file with %s is ignored with one logged error; the operator's policy applies", async (_name, yaml, problem) => {
  orgPolicy(yaml);
  const first = await deliver("web");
  const second = await deliver("web");
  expect(started(first.id) && started(second.id)).toBe(true);
  expect(app.logs.find("policy file is invalid and ignored; the operator's policy applies")).toEqual([
    expect.objectContaining({ level: 50, file: "octo-org/.github/.github/modal-runner.yml", problem: expect.stringMatching(problem) }),
  ]);
});
