// Policy holds after dispatch (issue 9). An org-level runner can be taken by any job
// of its runner group's repositories whose labels it fits, so a runner started for
// an allowed job can be taken by a job policy refuses. When the in_progress event
// says so, the App stops that sandbox and counts it; runners that took allowed jobs
// are left alone.
import { eventually, settled, startOrgWorld, type RunningApp, type World } from "../support/app-harness.js";
import { FastForwardClock } from "../support/fast-forward-clock.js";
import { counterValue } from "./foreign-runner.js";

let world: World;

afterEach(async () => {
  world.github.assertNoViolations();
  await world.close();
});

const checks = (app: RunningApp, outcome: string) =>
  counterValue(app.parts.metrics.registry, "modal_runner_assignment_checks_total", { outcome });

test.each([
  ["on DENIED_REPOSITORIES", { DENIED_REPOSITORIES: "octo-org/secret" }, undefined],
  ["left out by the org's policy file", {}, "repositories: [app]\n"],
])(
  "a job of a repository %s takes a runner started for an allowed job: its sandbox is stopped, another runner's allowed job is untouched",
  async (_case, env, orgPolicy) => {
    world = await startOrgWorld();
    const installationId = world.github.installations()[0]!.id;
    world.github.addRepository({ installationId, owner: "octo-org", name: "secret" });
    world.github.addRepository({ installationId, owner: "octo-org", name: ".github" });
    if (orgPolicy) world.github.addFile("octo-org", ".github", ".github/modal-runner.yml", orgPolicy);
    const app = await world.startApp({ RUNNER_SCOPE: "org", ...env });

    // Oldest first: the refused job is the one a fresh runner takes first.
    const denied = world.github.queueJob({
      owner: "octo-org",
      repo: "secret",
      labels: ["self-hosted", "modal"],
      createdAt: new Date(Date.now() - 60_000),
    });
    const allowed = [0, 1].map(() => world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["self-hosted", "modal"] }));
    for (const job of [denied, ...allowed]) await world.github.deliverWorkflowJob("queued", job);
    await eventually(() => world.modal.running().length === 2, "a runner for each allowed job");
    await settled(world);
    expect(
      world.modal
        .sandboxes()
        .map((sandbox) => sandbox.name)
        .sort(),
    ).toEqual(allowed.map((job) => `modal-${job.id}-0`).sort());

    // Both runners connect: the first takes the refused job, the second an allowed one.
    const runnerOf = (jobId: number) => world.github.runners().find((runner) => runner.name === `modal-${jobId}-0`)!;
    for (const job of allowed) world.github.connectRunner(runnerOf(job.id).jitConfig);
    expect(world.github.acquireJob(runnerOf(allowed[0]!.id).id)?.id).toBe(denied.id);
    expect(world.github.acquireJob(runnerOf(allowed[1]!.id).id)?.id).toBe(allowed[0]!.id);
    await settled(world);

    expect(world.modal.sandboxes().find((sandbox) => sandbox.name === `modal-${allowed[0]!.id}-0`)).toMatchObject({ endedBy: "terminate" });
    // The second allowed job, whose runner the first took, is served again at once under its next name.
    expect(
      world.modal
        .running()
        .map((sandbox) => sandbox.name)
        .sort(),
    ).toEqual([`modal-${allowed[1]!.id}-0`, `modal-${allowed[1]!.id}-1`]);
    expect(await checks(app, "stopped")).toBe(1);
    expect(await checks(app, "allowed")).toBe(1);
    expect(await checks(app, "foreign")).toBe(0);
  },
);

// Issue 14: the blip. Modal refuses every call but creation for 3 s while our runner
// takes a denied repository's job. The stop is retried with backoff, never tried once:
// the sandbox is stopped once Modal answers. The guard's backoff (0.5 s doubling) runs
// on a clock the test advances in steps of 100 ms.
test("a refusal holds through a Modal blip: the stop is retried until Modal answers, then the sandbox is stopped", async () => {
  world = await startOrgWorld();
  const installationId = world.github.installations()[0]!.id;
  world.github.addRepository({ installationId, owner: "octo-org", name: "secret" });
  const clock = new FastForwardClock();
  const app = await world.startApp({ RUNNER_SCOPE: "org", DENIED_REPOSITORIES: "octo-org/secret" }, { clock });
  const step = async () => {
    await clock.advance(100);
    await app.parts.idle();
  };

  const allowed = world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["self-hosted", "modal"] });
  await world.github.deliverWorkflowJob("queued", allowed);
  await eventually(() => world.modal.running().length === 1, "a runner for the allowed job");
  await settled(world);
  const runner = world.github.runners().find((candidate) => candidate.name === `modal-${allowed.id}-0`)!;
  world.github.connectRunner(runner.jitConfig);

  const denied = world.github.queueJob({
    owner: "octo-org",
    repo: "secret",
    labels: ["self-hosted", "modal"],
    createdAt: new Date(Date.now() - 60_000),
  });
  world.modal.setOutage("all-but-create");
  const blipStart = clock.now();
  expect(world.github.acquireJob(runner.id)?.id).toBe(denied.id);
  await settled(world);
  while (clock.now() - blipStart < 3000) await step();
  expect(await checks(app, "failed")).toBeGreaterThanOrEqual(2); // the stop failed and was tried again
  expect(world.modal.byName(`modal-${allowed.id}-0`)?.state).toBe("running");
  world.modal.setOutage(false);
  const answered = clock.now();

  // The next retry (backoff 0.5, 1, 2, 4 s…) stops it. (The allowed job, whose runner the
  // refused one took, meanwhile has a runner of its own again: modal-<id>-1.)
  const refusedRunning = () => world.modal.byName(`modal-${allowed.id}-0`) !== undefined;
  while (refusedRunning() && clock.now() - answered < 5000) await step();
  expect(refusedRunning()).toBe(false);
  console.log(`blip: the refused runner's sandbox was stopped ${clock.now() - answered} ms after Modal answered again`);
  expect(world.modal.sandboxes().find((sandbox) => sandbox.name === `modal-${allowed.id}-0`)).toMatchObject({ endedBy: "terminate" });
  await eventually(async () => (await checks(app, "stopped")) === 1, "the stop is counted");
  expect(world.modal.running().map((sandbox) => sandbox.name)).toEqual([`modal-${allowed.id}-1`]);
});
