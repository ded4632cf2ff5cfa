// Runner profiles through the webhook path: which profile a job gets, the exact
// sandbox parameters that reach Modal's control plane, images built once per
// profile, and jobs no profile can serve.
import { fetchProtected, settled, startWorld, type RunningApp, type World } from "../support/app-harness.js";
import { linesWith, outcomes } from "../support/outcomes.js";

let world: World;
let app: RunningApp;

beforeEach(async () => {
  world = await startWorld();
  const installation = world.github.addInstallation({ account: "octo-org", accountType: "Organization" });
  world.github.addRepository({ installationId: installation.id, owner: "octo-org", name: "app" });
  world.modal.addSecret("huggingface-token", { HF_TOKEN: "hf-secret-value" });
  app = await world.startApp({ RUNNER_CONFIG: "examples/runner-config.yml" });
});

afterEach(async () => {
  world.github.assertNoViolations();
  await world.close();
});

async function serve(labels: string[]) {
  const job = world.github.queueJob({ owner: "octo-org", repo: "app", labels });
  await world.github.deliverWorkflowJob("queued", job);
  await settled(world);
  return { job, sandbox: world.modal.sandboxes().find((sandbox) => sandbox.name === `modal-${job.id}-0`) };
}

test.each([
  [["self-hosted", "modal"], "default", { cpu: 2, memoryMiB: 4096, gpu: undefined, timeoutSecs: 7200, egress: "open", regions: [] }],
  [
    ["self-hosted", "linux", "x64", "modal", "large"],
    "large",
    { cpu: 16, memoryMiB: 65536, gpu: undefined, timeoutSecs: 21600, egress: "open" },
  ],
  [
    ["self-hosted", "modal", "gpu"],
    "gpu",
    { cpu: 8, memoryMiB: 32768, gpu: "A10G", timeoutSecs: 14400, regions: ["us-east"], secretNames: ["huggingface-token"], version: "v1" },
  ],
  [
    ["self-hosted", "modal", "locked-down"],
    "locked-down",
    {
      egress: "allowlist",
      blockNetwork: false,
      cidrAllowlist: [],
      domainAllowlist: expect.arrayContaining(["github.com", "*.actions.githubusercontent.com", "registry.npmjs.org"]),
    },
  ],
])("%j runs on profile %s with exactly its parameters", async (labels, profile, expected) => {
  const { sandbox } = await serve(labels);
  expect(sandbox).toMatchObject({ ...expected, tags: expect.objectContaining({ profile }) });
});

test("a profile's env and Modal secrets reach the sandbox's environment, next to the JIT config", async () => {
  const gpu = await serve(["modal", "gpu"]);
  expect(gpu.sandbox!.env).toMatchObject({ HF_TOKEN: "hf-secret-value", ACTIONS_RUNNER_INPUT_JITCONFIG: expect.any(String) });
  const lockedDown = await serve(["modal", "locked-down"]);
  expect(lockedDown.sandbox!.env).toMatchObject({
    NPM_CONFIG_REGISTRY: "https://registry.npmjs.org/",
    ACTIONS_RUNNER_INPUT_JITCONFIG: expect.any(String),
  });
});

test("each profile's image is built once and reused", async () => {
  for (const labels of [["modal"], ["modal"], ["modal", "large"], ["modal", "large"], ["modal", "gpu"]]) await serve(labels);
  const byProfile = new Map<string, Set<string>>();
  for (const sandbox of world.modal.sandboxes())
    byProfile.set(sandbox.tags.profile!, (byProfile.get(sandbox.tags.profile!) ?? new Set()).add(sandbox.imageId));
  expect([...byProfile.values()].map((ids) => ids.size)).toEqual([1, 1, 1]);
  // default and locked-down share the default image: three distinct definitions, each built once at start-up.
  expect(new Set(world.modal.sandboxes().map((sandbox) => sandbox.imageId)).size).toBe(3);
  const builds = world.modal.calls.filter((call) => call.method === "imageGetOrCreate").length;
  await serve(["modal", "large"]);
  expect(world.modal.calls.filter((call) => call.method === "imageGetOrCreate").length).toBe(builds);
});

test("a job with the runner label that no profile can serve is logged once, with the reason, and counted", async () => {
  const job = world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["modal", "windows"] });
  await world.github.deliverWorkflowJob("queued", job);
  await world.github.deliverWorkflowJob("queued", job);
  await settled(world);
  expect(world.github.runners()).toHaveLength(0);
  expect(world.modal.sandboxes()).toHaveLength(0);
  expect(outcomes(app, { jobId: job.id })).toEqual([
    expect.objectContaining({ kind: "refused", reason: expect.stringContaining("no runner profile covers the labels [modal, windows]") }),
  ]);
  expect(linesWith(app, { jobId: job.id, component: "dispatch" })).toEqual([
    expect.objectContaining({ reason: expect.stringContaining("no runner profile covers the labels [modal, windows]") }),
  ]);
  const metrics = await fetchProtected(app);
  expect(metrics).toContain('modal_runner_jobs_total{outcome="refused"} 1');
});
