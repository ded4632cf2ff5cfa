// Nothing stranded (issue 14, item 2): a dispatch cut off at any point (the App
// killed between the JIT registration and the sandbox, or before either, or after
// the create request reached Modal) is served by a fresh App on the same GitHub and
// Modal within REGISTRATION_GRACE plus two intervals, with exactly one sandbox. The
// fresh App never saw the job's webhook: only the watch list keeps the repository
// and scope in view after its start-up sweep. The fresh App runs on a clock the test
// advances one interval at a time: minutes of its time in a fraction of a second.
import { eventually, startWorld, type RunningApp, type World } from "../support/app-harness.js";
import { FastForwardClock } from "../support/fast-forward-clock.js";
import { attachSimulatedRunners, type SimulatedRunners } from "@modal-github-runner/simulator/simulated-runner";

let world: World;
let runners: SimulatedRunners | undefined;

afterEach(async () => {
  runners?.stop();
  runners = undefined;
  world.github.assertNoViolations();
  await world.close();
});

const GRACE_MS = 120_000;
const INTERVAL_MS = 60_000;
const ENV = {
  RECONCILE_INTERVAL: `${INTERVAL_MS / 1000}s`,
  REGISTRATION_GRACE: `${GRACE_MS / 1000}s`,
  UNSERVED_JOB_GRACE: "0s",
  FINISHED_GRACE: "0s",
  IDLE_RUNNER_TIMEOUT: "60s",
};

type CrashPoint = "before registration" | "after registration" | "after the create request";

/** The first App takes the job's webhook and is cut off at `point` (its call never answered, its runtime stopped without drain). */
async function cutOff(point: CrashPoint): Promise<{ jobId: number }> {
  world = await startWorld();
  const installation = world.github.addInstallation({ account: "octo-org", accountType: "Organization" });
  world.github.addRepository({ installationId: installation.id, owner: "octo-org", name: "app" });
  runners = attachSimulatedRunners(world.modal, world.github, { bootDelayMs: 20, pollMs: 10, jobDurationMs: 50 });
  const first = await world.startApp({ ...ENV, RECONCILE_INTERVAL: "0" });
  if (point === "before registration") world.github.hangNext({ method: "POST", route: /generate-jitconfig$/ });
  else world.modal.hangNext("sandboxCreateV2", { afterEffect: point === "after the create request" });

  const job = world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["self-hosted", "modal"] });
  expect((await world.github.deliverWorkflowJob("queued", job)).status).toBe(200);
  if (point === "before registration")
    await eventually(
      () => world.github.requests.some((request) => request.route.endsWith("generate-jitconfig")),
      "the JIT request is sent",
    );
  else await eventually(() => world.modal.calls.some((call) => call.method === "sandboxCreateV2"), "the create request is sent");
  expect(world.github.runners()).toHaveLength(point === "before registration" ? 0 : 1);
  expect(world.modal.sandboxes()).toHaveLength(point === "after the create request" ? 1 : 0);
  await first.server.shutdown(0); // no drain: the dispatch stays cut off
  expect(world.github.jobs()[0]!.status).toBe("queued");
  return { jobId: job.id };
}

async function restart(clock: FastForwardClock): Promise<RunningApp> {
  const second = await world.startApp(ENV, { reconcile: true, clock });
  world.github.webhookUrl = second.webhookUrl;
  await second.parts.idle(); // the start-up pass
  return second;
}

/** Lets the App's time pass one interval at a time (each interval's pass and what it dispatched done) until `done` or `ms` have passed. */
async function intervals(clock: FastForwardClock, app: RunningApp, ms: number, done: () => boolean): Promise<void> {
  for (let passed = 0; passed < ms && !done(); passed += INTERVAL_MS) {
    await clock.advance(INTERVAL_MS);
    await app.parts.idle();
  }
}

describe.each<CrashPoint>(["before registration", "after registration", "after the create request"])("a dispatch cut off %s", (point) => {
  test("is served by a fresh App within REGISTRATION_GRACE plus two intervals, with exactly one sandbox", async () => {
    const { jobId } = await cutOff(point);
    const clock = new FastForwardClock();
    const started = clock.now();
    const second = await restart(clock);
    // Served: taken, or a sandbox runs for it (its runner takes the job in real time).
    const served = () => world.github.job(jobId)?.status !== "queued" || world.modal.running().length > 0;
    await intervals(clock, second, GRACE_MS + 2 * INTERVAL_MS, served);
    expect(served()).toBe(true);
    const waited = clock.now() - started;
    // Not one interval more: what the App dispatched by now runs the job.
    await eventually(() => world.github.job(jobId)?.status === "completed", "the job ran");
    second.parts.reconciler.stop();
    await world.github.settle();
    await second.parts.idle(); // not settled(): the first App's cut-off call never ends
    const sandboxes = world.modal.sandboxes();
    expect(sandboxes).toHaveLength(1);
    expect(world.github.job(jobId)!.runnerName).toBe(sandboxes[0]!.name);
    // Figures for the report (2 shared cores): how long the fresh App took.
    console.info(`cut off ${point}: served ${waited / 1000} s (of the App's time) after the restart`);
  });
});

test("without a watch list the interval passes would not see it: the repository is watched while the registration waits", async () => {
  await cutOff("after registration");
  const clock = new FastForwardClock();
  const second = await restart(clock);
  expect(second.parts.reconciler.watch.scopes()).toEqual([expect.objectContaining({ scopeKey: "org:octo-org" })]);
  await intervals(clock, second, GRACE_MS + 2 * INTERVAL_MS, () => world.modal.running().length > 0);
  await eventually(() => world.github.jobs()[0]!.status === "completed", "the job ran");
  await intervals(clock, second, 2 * INTERVAL_MS, () => second.parts.reconciler.watch.size === 0);
  expect(second.parts.reconciler.watch.size).toBe(0); // resolved: nothing watched any more
});
