// What the App puts in a job's sandbox, through the whole App and the sandbox's scripts
// run for real: one file, one load of the App's modules (the entrypoint, which needs no
// App: entrypoint.test.ts).
//
// Docker in jobs: a job asking for a Docker profile gets a sandbox the control plane is
// asked to run with Docker support, from an image whose build installs a Docker engine;
// a plain job does not.
//
// The receipt at the end of every job's log (docker/runner/job-completed.sh), run with
// the environment the App gave the sandbox (as the fake control plane recorded it)
// and fixture cgroup files: what the job reserved, its wall time, its estimated cost
// (the same figure as the App's modal_runner_cost_dollars_total for that profile and
// duration), its peak memory and CPU, a right-sizing hint, and the job summary.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { RunnerConfig } from "../../src/model/runner-profile.js";
import { JOB_COMPLETED_HOOK } from "../../src/modal/runner-command.js";
import { priceTable, profileUsage, sandboxCost } from "../../src/telemetry/cost.js";
import { receiptEnv } from "../../src/telemetry/receipt-env.js";
import { runnerBuildArgs } from "../../src/runner-config/runner-build-args.js";
import { settled, startOrgWorld, type World } from "../support/app-harness.js";
import { runnerConfigFile } from "../profiles/config-file.js";

const HOOK = fileURLToPath(JOB_COMPLETED_HOOK);
const GIB = 1024 ** 3;
const STARTED_AT = 1_790_000_000;

const CONFIG = `
prices:
  memory_per_gib_second: 0.00001
profiles:
  small:
    labels: [modal, small]
    cpu: 1
    memoryMiB: 2048
  default:
    labels: [modal]
  large:
    labels: [modal, large]
    cpu: 8
    memoryMiB: 16384
    regions: [us-east]
`;

type Cgroup = { v2?: { peak?: number; usageUsec?: number }; v1?: { peak: number; usageNsec: number } };

function cgroupFixture(cgroup: Cgroup): string {
  const root = mkdtempSync(path.join(os.tmpdir(), "cgroup-"));
  if (cgroup.v2) {
    writeFileSync(path.join(root, "cgroup.controllers"), "cpuset cpu io memory pids\n");
    if (cgroup.v2.peak !== undefined) writeFileSync(path.join(root, "memory.peak"), `${cgroup.v2.peak}\n`);
    if (cgroup.v2.usageUsec !== undefined)
      writeFileSync(path.join(root, "cpu.stat"), `usage_usec ${cgroup.v2.usageUsec}\nuser_usec 1\nsystem_usec 1\n`);
  }
  if (cgroup.v1) {
    mkdirSync(path.join(root, "memory"));
    mkdirSync(path.join(root, "cpuacct"));
    writeFileSync(path.join(root, "memory", "memory.max_usage_in_bytes"), `${cgroup.v1.peak}\n`);
    writeFileSync(path.join(root, "cpuacct", "cpuacct.usage"), `${cgroup.v1.usageNsec}\n`);
  }
  return root;
}

/** Runs the hook as the runner would at the end of a job of `seconds`, in a sandbox with this environment. */
function runHook(sandboxEnv: Record<string, string>, seconds: number, cgroup: Cgroup = {}, summary = true) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "receipt-"));
  const summaryFile = path.join(dir, "step_summary.md");
  const result = spawnSync("/bin/bash", [HOOK], {
    env: {
      PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
      ...sandboxEnv,
      MODAL_RUNNER_STARTED_AT: String(STARTED_AT),
      MODAL_RUNNER_ENDED_AT: String(STARTED_AT + seconds),
      MODAL_RUNNER_CGROUP_ROOT: cgroupFixture(cgroup),
      ...(summary && { GITHUB_STEP_SUMMARY: summaryFile }),
    },
    encoding: "utf8",
  });
  const field = (name: string) => new RegExp(`^  ${name} +(.*)$`, "m").exec(result.stdout)?.[1];
  let summaryText = "";
  try {
    summaryText = readFileSync(summaryFile, "utf8");
  } catch {
    // no summary file
  }
  return { status: result.status, stdout: result.stdout, field, summary: summaryText };
}

describe("Docker in jobs", () => {
  let world: World;

  const DOCKER_CONFIG = `
  profiles:
    default:
      labels: [modal]
    docker:
      labels: [modal, docker]
      docker: true
    docker-gvisor:
      labels: [modal, docker-gvisor]
      docker: gvisor
    vm:
      labels: [modal, vm]
      runtime: vm
  `;

  // One world for these cases: each serves a job of its own and reads only that job's
  // sandbox and image.
  beforeAll(async () => {
    world = await startOrgWorld();
    await world.startApp({ RUNNER_CONFIG: runnerConfigFile(DOCKER_CONFIG) });
  });

  afterEach(() => {
    world.github.assertNoViolations();
  });

  afterAll(async () => {
    await world.close();
  });

  async function serve(labels: string[]) {
    const job = world.github.queueJob({ owner: "octo-org", repo: "app", labels });
    await world.github.deliverWorkflowJob("queued", job);
    await settled(world);
    const sandbox = world.modal.sandboxes().find((entry) => entry.name === `modal-${job.id}-0`)!;
    const image = world.modal.images().find((entry) => entry.imageId === sandbox.imageId)!;
    return { sandbox, install: image.dockerfileCommands.join("\n") };
  }

  test("a [self-hosted, modal, docker] job gets a VM sandbox, from an image that installs Docker, told to start dockerd", async () => {
    const { sandbox, install } = await serve(["self-hosted", "modal", "docker"]);
    expect(sandbox).toMatchObject({ runtime: "vm", experimentalOptions: {}, tags: expect.objectContaining({ profile: "docker" }) });
    expect(sandbox.env.MODAL_RUNNER_DOCKER).toBe("vm");
    expect(install).toContain(`docker-ce=5:${runnerBuildArgs().DOCKER_VERSION}`);
    expect(install).toContain("docker-compose-plugin=");
  });

  test("docker: gvisor asks for enable_docker on Modal's default runtime", async () => {
    const { sandbox, install } = await serve(["self-hosted", "modal", "docker-gvisor"]);
    expect(sandbox).toMatchObject({ runtime: undefined, experimentalOptions: { enable_docker: "true" } });
    expect(sandbox.env.MODAL_RUNNER_DOCKER).toBe("gvisor");
    expect(install).toContain("docker-ce=5:");
  });

  test("runtime: vm alone is the VM without Docker", async () => {
    const { sandbox, install } = await serve(["self-hosted", "modal", "vm"]);
    expect(sandbox).toMatchObject({ runtime: "vm", experimentalOptions: {} });
    expect(sandbox.env.MODAL_RUNNER_DOCKER).toBeUndefined();
    expect(install).not.toContain("docker-ce");
  });

  test("a plain job gets no Docker: no runtime, no option, no Docker engine, no dockerd", async () => {
    const { sandbox, install } = await serve(["self-hosted", "modal"]);
    expect(sandbox).toMatchObject({ runtime: undefined, experimentalOptions: {}, tags: expect.objectContaining({ profile: "default" }) });
    expect(sandbox.env.MODAL_RUNNER_DOCKER).toBeUndefined();
    expect(install).not.toContain("docker-ce");
  });
});

describe("with the environment the App gives the sandbox", () => {
  let world: World;

  beforeAll(async () => {
    world = await startOrgWorld();
    await world.startApp({ RUNNER_CONFIG: runnerConfigFile(CONFIG) });
  });

  afterAll(async () => {
    world.github.assertNoViolations();
    await world.close();
  });

  async function sandboxEnvFor(labels: string[]) {
    const job = world.github.queueJob({ owner: "octo-org", repo: "app", labels });
    await world.github.deliverWorkflowJob("queued", job);
    await settled(world);
    return world.modal.sandboxes().find((sandbox) => sandbox.name === `modal-${job.id}-0`)!.env;
  }

  test("a large job that used little: profile, wall time, the App's cost, peak memory, CPU, a hint, the job summary", async () => {
    const env = await sandboxEnvFor(["self-hosted", "modal", "large"]);
    const receipt = runHook(env, 312, { v2: { peak: Math.round(0.9 * GIB), usageUsec: 156_000_000 } });
    expect(receipt.status).toBe(0);
    const { config } = world.apps[0]!.settings.runner;
    const large = config.profiles.find((profile) => profile.name === "large")!;
    const app = sandboxCost({ lifetimeMs: 312_000, ...profileUsage(large) }, priceTable(config.prices));
    expect(receipt.field("profile")).toBe("large (8 CPU cores, 16.0 GiB memory)");
    expect(receipt.field("wall time")).toBe("312 s in the sandbox");
    expect(receipt.field("estimated cost")).toMatch(new RegExp(`^\\$${app.dollars.toFixed(6).replace(".", "\\.")} `));
    expect(receipt.field("peak memory")).toBe("0.9 GiB of 16.0 GiB");
    expect(receipt.field("CPU")).toBe("156.0 s of CPU time, 0.50 cores on average of 8");
    expect(receipt.field("hint")).toBe("peak memory 0.9 GiB of 16.0 GiB: the `small` profile would have fit");
    expect(receipt.summary).toContain(receipt.stdout.trim());
  });

  test("a job that used what it reserved gets no hint", async () => {
    const env = await sandboxEnvFor(["self-hosted", "modal"]);
    const receipt = runHook(env, 60, { v2: { peak: 3 * GIB, usageUsec: 100_000_000 } });
    expect(receipt.field("peak memory")).toBe("3.0 GiB of 4.0 GiB");
    expect(receipt.field("hint")).toBeUndefined();
  });
});

describe("usage from the sandbox's cgroup files", () => {
  const env = receiptEnv(
    {
      ...({} as RunnerConfig["profiles"][number]),
      name: "default",
      cpu: 2,
      memoryMiB: 4096,
      gpu: undefined,
      regions: [],
    },
    { profiles: [], prices: {} },
  );

  test("cgroup v1", () => {
    const receipt = runHook(env, 100, { v1: { peak: 2 * GIB, usageNsec: 50_000_000_000 } });
    expect(receipt.field("peak memory")).toBe("2.0 GiB of 4.0 GiB");
    expect(receipt.field("CPU")).toBe("50.0 s of CPU time, 0.50 cores on average of 2");
  });

  test("no cgroup files: not available, and the job still passes", () => {
    const receipt = runHook(env, 100, {});
    expect(receipt.status).toBe(0);
    expect(receipt.field("peak memory")).toBe("not available");
    expect(receipt.field("CPU")).toBe("not available");
    expect(receipt.field("estimated cost")).toMatch(/^\$\d+\.\d{6} /);
  });

  test("cgroup v2 without memory.peak (older kernels): memory not available, CPU still shown", () => {
    const receipt = runHook(env, 10, { v2: { usageUsec: 5_000_000 } });
    expect(receipt.field("peak memory")).toBe("not available");
    expect(receipt.field("CPU")).toBe("5.0 s of CPU time, 0.50 cores on average of 2");
  });

  test("no summary file from the runner: the receipt is printed all the same", () => {
    const receipt = runHook(env, 10, {}, false);
    expect(receipt.status).toBe(0);
    expect(receipt.field("wall time")).toBe("10 s in the sandbox");
  });
});

// The receipt and modal_runner_cost_dollars_total come from one formula and one price table.
test.each([
  ["default", { cpu: 2, memoryMiB: 4096, gpu: undefined, regions: [] }, {}, 1],
  ["a GPU, regions pinned", { cpu: 8, memoryMiB: 32768, gpu: "A10G", regions: ["us-east"] }, {}, 3599],
  [
    "two H100s, overridden prices",
    { cpu: 16, memoryMiB: 131072, gpu: "H100:2", regions: [] },
    { gpuPerSecond: { H100: 0.0011 }, cpuPerCoreSecond: 0.00004 },
    7777,
  ],
  ["fractional CPU", { cpu: 0.25, memoryMiB: 512, gpu: undefined, regions: [] }, {}, 86_400],
])("the receipt's cost equals the App's (%s)", (_case, resources, prices, seconds) => {
  const profile = { ...({} as RunnerConfig["profiles"][number]), name: "p", ...resources };
  const receipt = runHook(receiptEnv(profile, { profiles: [profile], prices }), seconds);
  const app = sandboxCost({ lifetimeMs: seconds * 1000, ...profileUsage(profile) }, priceTable(prices));
  expect(receipt.field("estimated cost")?.split(" ")[0]).toBe(`$${app.dollars.toFixed(6)}`);
});

test("a GPU without a price is named, and left out of the cost (as in the App's metric)", () => {
  const profile = { ...({} as RunnerConfig["profiles"][number]), name: "p", cpu: 1, memoryMiB: 1024, gpu: "X9000", regions: [] };
  const receipt = runHook(receiptEnv(profile, { profiles: [profile], prices: {} }), 100);
  const app = sandboxCost({ lifetimeMs: 100_000, ...profileUsage(profile) });
  expect(app.unpricedGpu).toBe("X9000");
  expect(receipt.field("estimated cost")?.split(" ")[0]).toBe(`$${app.dollars.toFixed(6)}`);
  expect(receipt.stdout).toContain("X9000: left out");
});
