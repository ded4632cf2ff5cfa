// One job, one runner, one sandbox through reconcile passes: a pass that observed a
// dispatch in flight serves nothing again, a dispatch cut off anywhere is served once by a
// fresh App, and a sandbox's end frees its slot and is charged once. One file (one load of
// the App's modules) for these cases.
import { type RunningApp, type World, eventually, settled, startWorld } from "../support/app-harness.js";
import { type ReconcileWorld, closeChecked, startReconcileWorld } from "./reconcile-world.js";
import { FastForwardClock } from "../support/fast-forward-clock.js";
import { type SimulatedRunners, attachSimulatedRunners } from "@modal-github-runner/simulator/simulated-runner";

// One job, one runner, whatever the timing: a reconcile pass that observed the world
// while a dispatch was creating its sandbox must not serve the job again, even when
// the dispatch completes between the observation and the plan (issue 7's duplicate
// sandboxes in a burst, or as Modal recovers).
describe("stale view", () => {
  let world: ReconcileWorld;
  afterEach(async () => {
    await world.close();
  });

  /** A job whose registration exists and whose sandbox create is in flight (slow). */
  async function dispatchInFlight() {
    world.modal.methodLatencyMs.sandboxCreateV2 = 400;
    const job = world.queueJob();
    await world.github.deliverWorkflowJob("queued", job);
    await eventually(() => world.github.runners().length === 1, "the runner is registered");
    expect(world.modal.running()).toHaveLength(0);
    return job;
  }

  /** Holds the pass's GitHub reads until the create has ended, so the plan comes after the dispatch ended. */
  function slowGitHubReads() {
    world.github.holdRequests(eventually(() => world.modal.running().length === 1, "the create ends"));
  }

  test("one replica: the dispatch completes between the pass's observation and its plan", async () => {
    // REGISTRATION_GRACE 0: only the dispatcher's record can tell the pass that the job is served.
    world = await startReconcileWorld({ env: { REGISTRATION_GRACE: "0s" }, runner: { bootDelayMs: 60_000 } });
    const job = await dispatchInFlight();
    slowGitHubReads();
    const pass = await world.pass();
    await settled(world);

    expect(pass.repaired).toEqual({});
    expect(world.modal.sandboxes().map((sandbox) => sandbox.name)).toEqual([`modal-${job.id}-0`]);
    expect(world.github.runners().map((runner) => runner.name)).toEqual([`modal-${job.id}-0`]);
  });

  test("two replicas: another replica's pass sees the registration without its sandbox and leaves the job alone", async () => {
    world = await startReconcileWorld({ env: { REGISTRATION_GRACE: "6s" }, runner: { bootDelayMs: 60_000 } });
    const other = await world.startApp({
      RECONCILE_INTERVAL: "0",
      REGISTRATION_GRACE: "6s",
      UNSERVED_JOB_GRACE: "0s",
      IDLE_RUNNER_TIMEOUT: "60s",
      FINISHED_GRACE: "0s",
    });
    const job = await dispatchInFlight(); // on the first replica (the fake delivers to it)
    slowGitHubReads();
    const pass = await other.parts.reconciler.run({ reason: "test" });
    await settled(world);

    expect(pass.repaired).toEqual({});
    expect(world.modal.sandboxes().map((sandbox) => sandbox.name)).toEqual([`modal-${job.id}-0`]);
    expect(world.github.runners().map((runner) => runner.name)).toEqual([`modal-${job.id}-0`]);
  });
});

// Nothing stranded (issue 14, item 2): a dispatch cut off at any point (the App
// killed between the JIT registration and the sandbox, or before either, or after
// the create request reached Modal) is served by a fresh App on the same GitHub and
// Modal within REGISTRATION_GRACE plus two intervals, with exactly one sandbox. The
// fresh App never saw the job's webhook: only the watch list keeps the repository
// and scope in view after its start-up sweep. The fresh App runs on a clock the test
// advances one interval at a time: minutes of its time in a fraction of a second.
describe("nothing stranded", () => {
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
});

// "A sandbox ended" has one path (assemble's sandboxEnded), whoever tells it: the
// completed webhook of our runner's job, or a reconcile pass that terminated the
// sandbox. Either way its cap slot frees, its cost is charged once, and a later
// pass that no longer sees it charges nothing more.
describe("sandbox ended", () => {
  let world: ReconcileWorld;

  afterEach(() => closeChecked(world));

  /** Dollars charged so far (modal_runner_cost_dollars_total, all labels). */
  async function charged(): Promise<number> {
    const metric = world.app.parts.metrics.registry.getSingleMetric("modal_runner_cost_dollars_total");
    const { values } = await metric!.get();
    return values.reduce((sum, value) => sum + value.value, 0);
  }

  test("our runner's job completed: its slot frees, its cost is charged once, and a pass after adds nothing", async () => {
    // The App and the runner on one clock: the job's second is skipped, not waited for.
    const clock = new FastForwardClock();
    world = await startReconcileWorld({ clock, runner: { clock, jobDurationMs: 1_000 } });
    const job = world.queueJob();
    await world.github.deliverWorkflowJob("queued", job);
    await eventually(() => world.app.parts.capacity.size === 1, "the sandbox is counted");
    expect(await charged()).toBe(0);
    await eventually(() => world.github.job(job.id)?.status === "in_progress", "the job runs");
    await clock.advance(1_000);
    await eventually(() => world.github.job(job.id)?.status === "completed", "the job ran");
    await eventually(() => world.app.parts.capacity.size === 0, "the completed event frees the slot");
    await settled(world);
    const once = await charged();
    expect(once).toBeGreaterThan(0);
    await world.pass();
    await world.pass();
    expect(await charged()).toBe(once);
    expect(world.app.parts.capacity.size).toBe(0);
  });

  test("a pass terminated an idle runner's sandbox: its slot frees and its cost is charged once", async () => {
    world = await startReconcileWorld({ runner: { bootDelayMs: 60_000 } }); // the runner never connects
    const job = world.queueJob();
    await world.github.deliverWorkflowJob("queued", job);
    await eventually(() => world.modal.running().length === 1, "the sandbox runs");
    await settled(world);
    world.github.cancelJob(job.id); // its runner is now surplus
    await world.github.settle();
    await world.app.parts.reconciler.idle();
    expect(world.app.parts.capacity.size).toBe(1);
    expect(await charged()).toBe(0);
    expect((await world.pass()).repaired).toEqual({ "remove-surplus-runner": 1 });
    expect(world.modal.running()).toHaveLength(0);
    expect(world.app.parts.capacity.size).toBe(0);
    const once = await charged();
    expect(once).toBeGreaterThan(0);
    await world.pass();
    expect(await charged()).toBe(once);
  });
});
