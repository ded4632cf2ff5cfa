// Concurrency caps: a job over a cap waits, and is dispatched, oldest first, as soon
// as a slot frees; a waiting job that is cancelled leaves the wait; after a restart,
// waiting jobs are found again from GitHub.
import { attachSimulatedRunners, type SimulatedRunners } from "@modal-github-runner/simulator/simulated-runner";
import { FastForwardClock } from "../support/fast-forward-clock.js";
import { eventually, fetchProtected, settled, startWorld, type RunningApp, type World } from "../support/app-harness.js";
import { FAST_RECONCILE } from "../reconcile/reconcile-world.js";
import { outcomes } from "../support/outcomes.js";
import { runnerConfigFile } from "./config-file.js";

let world: World;
let runners: SimulatedRunners;
/** The simulated runners' time: a job held for an hour ends when the test skips past it. */
let runnerClock: FastForwardClock;
let installations: { octo: number; other: number };

beforeEach(async () => {
  world = await startWorld();
  installations = {
    octo: world.github.addInstallation({ account: "octo-org", accountType: "Organization" }).id,
    other: world.github.addInstallation({ account: "other-org", accountType: "Organization" }).id,
  };
  world.github.addRepository({ installationId: installations.octo, owner: "octo-org", name: "app" });
  world.github.addRepository({ installationId: installations.octo, owner: "octo-org", name: "web" });
  world.github.addRepository({ installationId: installations.other, owner: "other-org", name: "api" });
});

afterEach(async () => {
  runners?.stop();
  world.github.assertNoViolations();
  await world.close();
});

function configWith(caps: string, largeMax = ""): string {
  return runnerConfigFile(
    [
      "caps:",
      ...caps.split("\n").map((line) => `  ${line}`),
      "profiles:",
      "  default:",
      "    labels: [modal]",
      "  large:",
      "    labels: [modal, large]",
      largeMax && `    maxSandboxes: ${largeMax}`,
      "",
    ].join("\n"),
  );
}

async function start(config: string, jobDurationMs: number | ((jobId: number) => number) = 300): Promise<RunningApp> {
  const app = await world.startApp({ RUNNER_CONFIG: config });
  runnerClock = new FastForwardClock();
  runners = attachSimulatedRunners(world.modal, world.github, { clock: runnerClock, bootDelayMs: 10, pollMs: 10, jobDurationMs });
  return app;
}

const HOUR = 3_600_000;
const queue = (repo: string, labels = ["modal"]) => {
  const [owner, name] = repo.split("/") as [string, string];
  return world.github.queueJob({ owner, repo: name, labels });
};
const statusOf = (jobId: number) => world.github.jobs().find((job) => job.id === jobId)!.status;
/** Waits until the job runs on its runner, then skips the runner's clock past the job's `ms`: it completes without being waited for. */
async function runToEnd(jobId: number, ms: number): Promise<void> {
  await eventually(() => statusOf(jobId) === "in_progress", `job ${jobId} runs`);
  await runnerClock.advance(ms);
  await eventually(() => statusOf(jobId) === "completed", `job ${jobId} is done`);
}
const startedNames = () => world.modal.sandboxes().map((sandbox) => sandbox.tags.job_id);

test.each([
  ["total", configWith("total: 1"), ["octo-org/app"], ["octo-org/web"], undefined],
  ["per installation", configWith("perInstallation: 1"), ["octo-org/app"], ["octo-org/web"], "other-org/api"],
  // Jobs asking for "large": a runner made for the plain job in "web" cannot take them.
  ["per repository", configWith("perRepository: 1"), ["octo-org/app", "large"], ["octo-org/app", "large"], "octo-org/web"],
  ["per profile", configWith("{}", "1"), ["octo-org/app", "large"], ["octo-org/web", "large"], "octo-org/web"],
])(
  "the %s cap: the second job waits until the first is done; others are not held back",
  async (_cap, config, first, second, unaffected) => {
    // The first job runs until the test ends it (not for a fixed time a slow machine could outlast).
    const held = new Set<number>();
    const app = await start(config, (jobId) => (held.has(jobId) ? 600_000 : 300));
    const [firstRepo, firstLabel] = first;
    const [secondRepo, secondLabel] = second;
    const one = queue(firstRepo!, ["modal", ...(firstLabel ? [firstLabel] : [])]);
    const two = queue(secondRepo!, ["modal", ...(secondLabel ? [secondLabel] : [])]);
    held.add(one.id);
    await world.github.deliverWorkflowJob("queued", one);
    await world.github.deliverWorkflowJob("queued", two);
    await eventually(
      () => outcomes(app, { kind: "waiting" }).length === 1 && startedNames().length === 1,
      "the first job starts and the second waits",
    );
    expect(outcomes(app, { kind: "waiting" })).toEqual([expect.objectContaining({ jobId: two.id, reason: expect.stringContaining(_cap) })]);
    expect(startedNames()).toEqual([String(one.id)]);
    expect(await fetchProtected(app)).toContain("modal_runner_jobs_waiting 1");

    if (unaffected) {
      const three = queue(unaffected);
      await world.github.deliverWorkflowJob("queued", three);
      await eventually(() => startedNames().includes(String(three.id)), "a job the cap does not concern starts at once");
      expect(statusOf(two.id)).toBe("queued");
    }

    await eventually(() => statusOf(one.id) === "in_progress", "the first job runs");
    expect(statusOf(two.id)).toBe("queued");
    world.github.completeJob(one.id);
    await eventually(() => startedNames().includes(String(two.id)), "the waiting job starts once the slot is free");
    await runToEnd(two.id, 300);
  },
);

test("waiting jobs start oldest first, one per freed slot", async () => {
  const app = await start(configWith("total: 1"), 150);
  const jobs = [queue("octo-org/app"), queue("octo-org/app"), queue("octo-org/app"), queue("octo-org/app")];
  // Deliver newest first: the order of arrival must not matter, only the age of the job.
  await world.github.deliverWorkflowJob("queued", jobs[0]!);
  for (const job of jobs.slice(1).reverse()) await world.github.deliverWorkflowJob("queued", job);
  // One at a time (the cap is 1), each job is run to its end as soon as it runs.
  for (const job of jobs) await runToEnd(job.id, 150);
  expect(jobs.every((job) => statusOf(job.id) === "completed")).toBe(true);
  expect(startedNames()).toEqual(jobs.map((job) => String(job.id)));
  expect(world.modal.mostInFlight("sandboxCreateV2")).toBe(1);
  // Each later job waited once, then started once its turn came.
  for (const job of jobs.slice(1)) expect(outcomes(app, { jobId: job.id }).map((outcome) => outcome.kind)).toEqual(["waiting", "started"]);
});

test("a job cancelled while it waits is dropped from the wait", async () => {
  const app = await start(configWith("total: 1"));
  const running = queue("octo-org/app");
  const cancelled = queue("octo-org/app");
  await world.github.deliverWorkflowJob("queued", running);
  await world.github.deliverWorkflowJob("queued", cancelled);
  await eventually(() => app.parts.dispatcher.waiting().length === 1, "the second job waits");
  world.github.cancelJob(cancelled.id);
  await eventually(() => app.parts.dispatcher.waiting().length === 0, "it is dropped from the wait");
  await runToEnd(running.id, 300);
  await settled(world);
  expect(startedNames()).toEqual([String(running.id)]);
  expect(app.parts.dispatcher.waiting()).toEqual([]);
});

test("after a restart, jobs that were waiting are found again from GitHub and wait for the slot", async () => {
  const config = configWith("total: 1");
  const first = await start(config, (jobId) => (jobId === jobs[0]!.id ? HOUR : 100));
  const jobs = [queue("octo-org/app"), queue("octo-org/app")];
  await world.github.deliverWorkflowJob("queued", jobs[0]!);
  await world.github.deliverWorkflowJob("queued", jobs[1]!);
  await eventually(() => first.parts.dispatcher.waiting().length === 1, "the second job waits");

  // The replica restarts: its memory of the wait is gone.
  await eventually(() => world.modal.running().length === 1, "the first job's sandbox runs");
  await first.stop();
  const second = await world.startApp({ RUNNER_CONFIG: config, ...FAST_RECONCILE }, { reconcile: true });
  world.github.webhookUrl = second.webhookUrl;
  await eventually(() => second.parts.dispatcher.waiting().length === 1, "the start-up pass finds the job and it waits again");
  expect(startedNames()).toEqual([String(jobs[0]!.id)]);
  expect(statusOf(jobs[0]!.id)).toBe("in_progress");

  await runnerClock.advance(HOUR); // the first job's hour is up: it completes, its sandbox ends
  await eventually(() => statusOf(jobs[1]!.id) === "completed", "the job ran once the slot was free", 10_000);
  expect(startedNames()).toEqual(jobs.map((job) => String(job.id)));
});

test("an org's per-profile cap counts only its own sandboxes, not another org's", async () => {
  world.github.addRepository({ installationId: installations.octo, owner: "octo-org", name: ".github" });
  world.github.addFile("octo-org", ".github", ".github/modal-runner.yml", "caps:\n  perProfile:\n    large: 1\n");
  const app = await start(configWith("{}"), (jobId) => (jobId === others[0]!.id ? HOUR : 300));
  // Another org runs a large job (and has no cap of its own).
  const others = [queue("other-org/api", ["modal", "large"])];
  await world.github.deliverWorkflowJob("queued", others[0]!);
  await eventually(() => startedNames().includes(String(others[0]!.id)), "the other org's large job runs");

  const one = queue("octo-org/app", ["modal", "large"]);
  const two = queue("octo-org/web", ["modal", "large"]);
  await world.github.deliverWorkflowJob("queued", one);
  await eventually(() => startedNames().includes(String(one.id)), "the org's first large job starts beside the other org's");
  await world.github.deliverWorkflowJob("queued", two);
  await eventually(() => outcomes(app, { kind: "waiting" }).length === 1, "the org's second large job waits");
  expect(outcomes(app, { kind: "waiting" })).toEqual([
    expect.objectContaining({ jobId: two.id, reason: "cap reached: per profile large in this installation (1/1)" }),
  ]);
  expect(startedNames()).not.toContain(String(two.id));
  await runToEnd(one.id, 300);
  await eventually(() => startedNames().includes(String(two.id)), "it starts once the org's first is done");
  expect(statusOf(others[0]!.id)).not.toBe("completed"); // the other org's job had no part in it
});
