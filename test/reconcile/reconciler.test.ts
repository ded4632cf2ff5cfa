// The reconciler through the whole App against the fakes, one scenario per promise it
// makes: no job is lost, no sandbox leaks, no runner is killed mid-job; one job gets one
// runner however dispatch and passes interleave; installations come and go; what each
// pass reads and costs. One file (one load of the App's modules) for these cases; each
// block starts its own worlds.
import { Status } from "nice-grpc";
import { eventually, settled, type RunningApp, type World, startOrgWorld, startWorld } from "../support/app-harness.js";
import { FastForwardClock } from "../support/fast-forward-clock.js";
import { FAST_RECONCILE, closeChecked, startReconcileWorld, type ReconcileWorld } from "./reconcile-world.js";
import { type SimulatedRunners, attachSimulatedRunners } from "@modal-github-runner/simulator/simulated-runner";

// The reconciler against the fakes, one scenario per promise it makes: no job is
// lost, no sandbox leaks, no runner is killed mid-job.
describe("the reconciler's promises", () => {
  let world: ReconcileWorld;

  afterEach(() => closeChecked(world));

  const statusOf = (jobId: number) => world.github.jobs().find((job) => job.id === jobId)?.status;
  /** A job served by a runner that never connects, then cancelled with its webhook lost: the runner is idle and unneeded. */
  async function idleRunnerOfCancelledJob() {
    world = await startReconcileWorld({ runner: { bootDelayMs: 60_000 } });
    const job = world.queueJob();
    await world.github.deliverWorkflowJob("queued", job);
    await eventually(() => world.modal.running().length === 1, "the sandbox runs");
    await settled(world);
    world.github.webhookUrl = undefined;
    world.github.cancelJob(job.id);
    return job;
  }

  const repairLines = () => world.app.logs.lines.filter((line) => typeof line.repair === "string");
  /** Each pass's summary line (known by its fields, not its message). */
  const passLines = () =>
    world.app.logs.lines.filter(
      (line) => line.component === "reconcile" && typeof line.checked === "object" && typeof line.apiCalls === "object",
    );

  describe("lost webhooks", () => {
    test("a job whose webhook was never sent is served by the start-up pass (full sweep)", async () => {
      world = await startReconcileWorld({ reconcileOnStart: false });
      const job = world.queueJob();
      const summary = await world.app.parts.reconciler.run({ full: true, reason: "start-up" });
      expect(summary).toMatchObject({ ok: true, full: true, repaired: { "serve-unserved-job": 1 } });
      await eventually(() => statusOf(job.id) === "completed", "the job ran");
      expect(world.modal.sandboxes()).toEqual([expect.objectContaining({ name: `modal-${job.id}-0` })]);
    });

    test("a delivery that failed while the App was unreachable is redelivered once, and its job served, by the next pass", async () => {
      world = await startReconcileWorld({ repositories: ["app", "quiet"] });
      await world.app.parts.reconciler.run({ full: true, reason: "start-up" });
      world.github.hookDeliveries.ingressDown = true;
      const job = world.queueJob(["self-hosted", "modal"], { repo: "quiet" });
      await world.github.deliverWorkflowJob("queued", job);
      world.github.hookDeliveries.ingressDown = false;

      const summary = await world.pass(); // not a full sweep: "quiet" has had no activity the App saw
      expect(summary).toMatchObject({ full: false, repaired: {} });
      await world.app.parts.reconciler.idle(); // the redelivery round runs beside the pass
      await eventually(() => statusOf(job.id) === "completed", "the redelivered job ran");
      expect(world.github.hookDeliveries.redeliveryRequests).toHaveLength(1);
      // Asked once: a later pass does not ask again; the round's count is reported by the pass after it.
      expect((await world.pass()).redelivered).toBe(1);
      await world.app.parts.reconciler.idle();
      expect((await world.pass()).redelivered).toBe(0);
      expect(world.github.hookDeliveries.redeliveryRequests).toHaveLength(1);
    });

    test("a pass does not wait for the redelivery round beside it, and a slow round is not started twice", async () => {
      world = await startReconcileWorld();
      await world.app.parts.reconciler.run({ full: true, reason: "start-up" });
      await world.app.parts.reconciler.idle();
      world.github.hangNext({ method: "GET", route: "/app/hook/deliveries" }); // the delivery log never answers
      const lost = world.queueJob();
      await world.github.deliverWorkflowJob("completed", world.queueJob(["ubuntu-latest"])); // the repository is active
      expect(await world.pass()).toMatchObject({ ok: true, repaired: { "serve-unserved-job": 1 } });
      await eventually(() => statusOf(lost.id) === "completed", "the job ran");
      await world.pass();
      expect(world.github.requests.filter((request) => request.route === "/app/hook/deliveries")).toHaveLength(1 + 1);
    });

    test("between full sweeps, repositories with recent activity are swept", async () => {
      world = await startReconcileWorld();
      await world.app.parts.reconciler.run({ full: true, reason: "start-up" });
      // Another job's webhook marks the repository active; this job's webhook is lost.
      await world.github.deliverWorkflowJob("completed", world.queueJob(["ubuntu-latest"]));
      const lost = world.queueJob();
      const summary = await world.pass();
      expect(summary).toMatchObject({ full: false, repaired: { "serve-unserved-job": 1 } });
      await eventually(() => statusOf(lost.id) === "completed", "the job ran");
    });

    test("during a Modal outage a pass changes nothing, and the waiting job is served once Modal is back", async () => {
      world = await startReconcileWorld();
      await settled(world);
      world.modal.setOutage(true);
      const job = world.queueJob();
      await world.github.deliverWorkflowJob("queued", job);
      await eventually(() => world.app.parts.dispatcher.waiting().length === 1, "the job waits for Modal");
      expect((await world.pass()).ok).toBe(false); // Modal cannot even be listed: nothing is changed
      expect(world.github.requests.filter((request) => request.method === "DELETE")).toHaveLength(0);

      world.modal.setOutage(false);
      await eventually(() => statusOf(job.id) === "completed", "the job ran");
      expect((await world.pass()).ok).toBe(true);
      expect(world.modal.sandboxes().map((sandbox) => sandbox.name)).toEqual([`modal-${job.id}-0`]);
    });

    test("a job queued longer than GitHub keeps jobs is not served", async () => {
      world = await startReconcileWorld();
      world.queueJob(["modal"], { createdAt: new Date(Date.now() - 25 * 3_600_000) });
      const summary = await world.app.parts.reconciler.run({ full: true, reason: "test" });
      expect(summary.repaired).toEqual({});
      expect(world.modal.sandboxes()).toHaveLength(0);
    });

    test("a job for other runners, or refused by policy, is not served", async () => {
      world = await startReconcileWorld({ env: { DENIED_REPOSITORIES: "octo-org/secret" }, repositories: ["app", "secret"] });
      world.queueJob(["self-hosted", "k8s"]);
      world.queueJob(["modal"], { repo: "secret" });
      const summary = await world.app.parts.reconciler.run({ full: true, reason: "test" });
      expect(summary).toMatchObject({ checked: { repositories: 2, queuedJobs: 0 }, repaired: {} });
    });
  });

  describe("runners taken by other jobs", () => {
    test("a runner stolen by an older job with the same labels: the newer job gets another runner, no busy sandbox is killed", async () => {
      // FINISHED_GRACE 1m: a runner whose 400 ms job ended just before the pass has time to exit by itself.
      world = await startReconcileWorld({ runner: { jobDurationMs: 400 }, env: { FINISHED_GRACE: "1m" } });
      const older = world.queueJob(); // its webhook is lost
      const newer = world.queueJob();
      await world.github.deliverWorkflowJob("queued", newer);
      await world.github.settle();
      // The in_progress event would have the newer job served again at once (fleet.test.ts): lost here, the pass does it.
      const webhookUrl = world.github.webhookUrl;
      world.github.webhookUrl = undefined;
      // The runner made for the newer job takes the older one (oldest first).
      await eventually(() => statusOf(older.id) === "in_progress", "the older job runs");
      world.github.webhookUrl = webhookUrl;
      expect(statusOf(newer.id)).toBe("queued");

      const summary = await world.pass();
      expect(summary.repaired).toEqual({ "serve-unserved-job": 1 });
      expect(repairLines()[0]).toMatchObject({
        jobId: newer.id,
        attempt: 1,
        reason: expect.stringContaining("its runner took another job"),
      });
      await eventually(() => statusOf(newer.id) === "completed" && statusOf(older.id) === "completed", "both jobs ran");
      // Nothing was terminated: every sandbox ended by itself after its job.
      expect(world.modal.sandboxes().map((sandbox) => sandbox.endedBy)).toEqual(["exit", "exit"]);
      expect(
        world.modal
          .sandboxes()
          .map((sandbox) => sandbox.name)
          .sort(),
      ).toEqual([`modal-${newer.id}-0`, `modal-${newer.id}-1`]);
    });
  });

  describe("runners nobody needs", () => {
    test("a job cancelled before a runner took it: its idle runner is removed, registration first", async () => {
      const clock = new FastForwardClock();
      world = await startReconcileWorld({ runner: { bootDelayMs: 60_000 }, clock });
      const job = world.queueJob();
      await world.github.deliverWorkflowJob("queued", job);
      await eventually(() => world.modal.running().length === 1, "the sandbox runs");
      world.github.cancelJob(job.id); // sends workflow_job.completed (cancelled)
      await settled(world);

      // The completed webhook asked for a pass soon (in a second): none has run yet.
      expect(passLines()).toHaveLength(0);
      await clock.advance(1000);
      await settled(world);
      expect(passLines()).toHaveLength(1);
      expect(world.modal.running()).toHaveLength(0);
      expect(world.github.runners()).toHaveLength(0);
      const deletedAt = world.github.requests.find((request) => request.method === "DELETE")!.at;
      const terminatedAt = world.modal.calls.find((call) => call.method === "sandboxTerminateV2")!.at;
      expect(deletedAt).toBeLessThanOrEqual(terminatedAt);
      expect(repairLines()).toEqual([
        expect.objectContaining({
          repair: "remove-surplus-runner",
          jobId: job.id,
          runner: `modal-${job.id}-0`,
          sandbox: `modal-${job.id}-0`,
          reason: expect.stringContaining("no longer queued"),
        }),
      ]);
    });

    test("a job done by another runner: exactly one surplus runner is removed", async () => {
      const clock = new FastForwardClock();
      world = await startReconcileWorld({ runner: { bootDelayMs: 60_000 }, clock });
      const done = world.queueJob();
      const waiting = world.queueJob();
      await world.github.deliverWorkflowJob("queued", done);
      await world.github.deliverWorkflowJob("queued", waiting);
      await eventually(() => world.modal.running().length === 2, "two sandboxes run");
      world.github.completeJob(done.id); // another (non-Modal) runner did it; its webhook asks for a pass soon

      await settled(world);
      await clock.advance(1000);
      await settled(world);
      expect(passLines()).toHaveLength(1);
      expect(world.modal.running()[0]!.name).toBe(`modal-${waiting.id}-0`);
      expect(world.github.runners().map((runner) => runner.name)).toEqual([`modal-${waiting.id}-0`]);
    });

    test("a cancellation racing an assignment: the runner that took a job meanwhile is left alone", async () => {
      world = await startReconcileWorld({ runner: { bootDelayMs: 60_000 } });
      const cancelled = world.queueJob();
      await world.github.deliverWorkflowJob("queued", cancelled);
      await eventually(() => world.modal.running().length === 1, "the sandbox runs");
      await settled(world);
      world.github.cancelJob(cancelled.id);
      await world.github.settle();
      const runner = world.github.runners()[0]!;
      // Between the pass's look at the runner and its delete, a job is queued and the runner takes it.
      let next: ReturnType<typeof world.queueJob> | undefined;
      world.github.beforeNext({ method: "DELETE" }, () => {
        next = world.queueJob();
        world.github.connectRunner(runner.jitConfig);
        world.github.acquireJob(runner.id);
      });

      const summary = await world.pass();
      expect(summary).toMatchObject({ leftAlone: 1, repaired: {} });
      expect(statusOf(next!.id)).toBe("in_progress");
      expect(world.modal.running()).toHaveLength(1);
      expect(world.github.runners()).toEqual([expect.objectContaining({ id: runner.id, busy: true })]);
      expect(
        world.app.logs.lines.filter((line) => line.component === "reconcile" && line.reason === "the runner took a job meanwhile"),
      ).toHaveLength(1);
    });

    test("a runner that never takes a job is reaped after IDLE_RUNNER_TIMEOUT, and its job gets a new runner", async () => {
      const clock = new FastForwardClock();
      world = await startReconcileWorld({
        clock,
        env: { IDLE_RUNNER_TIMEOUT: "5m" },
        // The first runner never manages to connect; the next one does.
        runner: { bootDelayMs: (name) => (name.endsWith("-0") ? 60_000 : 20) },
      });
      const job = world.queueJob();
      await world.github.deliverWorkflowJob("queued", job);
      await eventually(() => world.modal.running().length === 1, "the sandbox runs");
      expect((await world.pass()).repaired).toEqual({});
      await clock.advance(4 * 60_000);
      expect((await world.pass()).repaired).toEqual({});

      await clock.advance(60_000);
      const summary = await world.pass();
      expect(summary.repaired).toEqual({ "reap-never-assigned": 1, "serve-unserved-job": 1 });
      await eventually(() => statusOf(job.id) === "completed", "the job ran on the new runner");
      expect(world.modal.sandboxes().map((sandbox) => [sandbox.name, sandbox.endedBy])).toEqual([
        [`modal-${job.id}-0`, "terminate"],
        [`modal-${job.id}-1`, "exit"],
      ]);
    });

    test("a sandbox still running after its job finished is terminated after the grace period", async () => {
      const clock = new FastForwardClock();
      world = await startReconcileWorld({ env: { FINISHED_GRACE: "2m" }, runner: { hangAfterJob: true }, clock });
      const job = world.queueJob();
      await world.github.deliverWorkflowJob("queued", job);
      await eventually(() => statusOf(job.id) === "completed", "the job ran");
      await settled(world);
      const [sandbox] = world.modal.running();
      expect((await world.pass()).repaired).toEqual({});
      await clock.advance(60_000);
      expect((await world.pass()).repaired).toEqual({});

      await clock.advance(60_000);
      expect((await world.pass()).repaired).toEqual({ "terminate-finished": 1 });
      expect(world.modal.sandbox(sandbox!.sandboxId)).toMatchObject({ state: "finished", endedBy: "terminate" });
    });

    test("a registration whose sandbox died is deleted, and its job served again", async () => {
      const clock = new FastForwardClock();
      world = await startReconcileWorld({ env: { REGISTRATION_GRACE: "2m" }, runner: { bootDelayMs: 60_000 }, clock });
      const job = world.queueJob();
      await world.github.deliverWorkflowJob("queued", job);
      await eventually(() => world.modal.running().length === 1, "the sandbox runs");
      world.modal.terminateSandbox(world.modal.running()[0]!.sandboxId); // e.g. Modal lost the worker

      // A registration without a sandbox may be an attempt still creating it: left alone for REGISTRATION_GRACE.
      expect((await world.pass()).repaired).toEqual({});
      await clock.advance(60_000);
      expect((await world.pass()).repaired).toEqual({});
      await clock.advance(60_000);
      expect((await world.pass()).repaired).toEqual({ "delete-orphan-registration": 1, "serve-unserved-job": 1 });
      await settled(world);
      expect(world.github.runners().map((runner) => runner.name)).toEqual([`modal-${job.id}-1`]);
    });
  });

  describe("assignments", () => {
    test("a runner running a job is left alone, whatever the events said (GitHub's busy flag is what counts)", async () => {
      world = await startReconcileWorld({ runner: { jobDurationMs: 5000 } });
      const job = world.queueJob();
      await world.github.deliverWorkflowJob("queued", job);
      await eventually(() => statusOf(job.id) === "in_progress", "the job runs");
      await settled(world);
      expect((await world.pass()).repaired).toEqual({});
      expect(world.modal.running()).toHaveLength(1);
    });
  });

  describe("replicas", () => {
    test("two replicas reconciling at once repair each problem once", async () => {
      // Repository-level runners: the cancelled job's runner cannot serve the other repository's jobs.
      world = await startReconcileWorld({ runner: { bootDelayMs: 60_000 }, env: { RUNNER_SCOPE: "repo" }, repositories: ["app", "other"] });
      const second = await world.startApp({ ...FAST_RECONCILE, RUNNER_SCOPE: "repo" });
      // A cancelled job's idle runner, and two jobs whose webhooks were lost.
      const cancelled = world.queueJob();
      await world.github.deliverWorkflowJob("queued", cancelled);
      await eventually(() => world.modal.running().length === 1, "the sandbox runs");
      await settled(world);
      world.github.cancelJob(cancelled.id);
      world.github.webhookUrl = undefined; // the cancellation's webhook and the new jobs' are lost
      const lost = [world.queueJob(["modal"], { repo: "other" }), world.queueJob(["self-hosted", "modal"], { repo: "other" })];

      const [a, b] = await Promise.all([
        world.app.parts.reconciler.run({ full: true, reason: "test" }),
        second.parts.reconciler.run({ full: true, reason: "test" }),
      ]);
      await settled(world);

      expect(a.failed + b.failed).toBe(0);
      expect(
        world.modal
          .running()
          .map((sandbox) => sandbox.name)
          .sort(),
      ).toEqual(lost.map((job) => `modal-${job.id}-0`).sort());
      expect(
        world.github
          .runners()
          .map((runner) => runner.name)
          .sort(),
      ).toEqual(lost.map((job) => `modal-${job.id}-0`).sort());
      expect(
        world.github.requests.filter((request) => request.route.endsWith("generate-jitconfig") && request.status === 201),
      ).toHaveLength(3);
    });
  });

  describe("running the reconciler", () => {
    test("on start-up and then on the interval", async () => {
      const clock = new FastForwardClock();
      world = await startReconcileWorld({ env: { RECONCILE_INTERVAL: "5m" }, reconcileOnStart: true, clock });
      await eventually(() => passLines().some((line) => line.reason === "start-up" && line.full === true), "the start-up pass ran");
      await world.github.deliverWorkflowJob("completed", world.queueJob(["ubuntu-latest"])); // the repository is active
      const lost = world.queueJob();
      await clock.advance(4 * 60_000);
      await settled(world);
      expect(passLines().map((line) => line.reason)).toEqual(["start-up"]);

      await clock.advance(60_000);
      await eventually(() => statusOf(lost.id) === "completed", "the timer's pass served the lost job");
      await clock.advance(5 * 60_000);
      await settled(world);
      expect(passLines().map((line) => line.reason)).toEqual(["start-up", "interval", "interval"]);
    });

    test("on demand over HTTP, with the secret", async () => {
      world = await startReconcileWorld({ env: { RECONCILE_SECRET: "reconcile-secret-0123456789" } });
      const lost = world.queueJob();
      const url = `${world.app.url}/reconcile?full=true`;
      expect((await fetch(url, { method: "POST" })).status).toBe(401);
      expect((await fetch(url, { method: "POST", headers: { authorization: "Bearer wrong-secret-000000000" } })).status).toBe(401);
      expect((await fetch(url)).status).toBe(405);
      const response = await fetch(url, { method: "POST", headers: { authorization: "Bearer reconcile-secret-0123456789" } });
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ ok: true, full: true, reason: "http", repaired: { "serve-unserved-job": 1 } });
      await eventually(() => statusOf(lost.id) === "completed", "the job ran");
      expect(world.app.logs.text).not.toContain("reconcile-secret-0123456789");
    });

    test("without RECONCILE_SECRET the endpoint does not exist", async () => {
      world = await startReconcileWorld();
      expect((await fetch(`${world.app.url}/reconcile`, { method: "POST" })).status).toBe(404);
    });
  });

  describe("reporting", () => {
    test("each pass logs one summary line; each repair one line with job, runner, sandbox and reason", async () => {
      const job = await idleRunnerOfCancelledJob();
      await world.pass();

      expect(passLines()).toHaveLength(1);
      const [summary] = passLines();
      expect(summary).toMatchObject({
        level: 30,
        reason: "test",
        checked: { sandboxes: 1, runners: 1, repositories: 1, queuedJobs: 0 },
        repaired: { "remove-surplus-runner": 1 },
        apiCalls: { github: expect.any(Number), modal: expect.any(Number) },
      });
      expect(repairLines()).toEqual([
        expect.objectContaining({
          repair: "remove-surplus-runner",
          jobId: job.id,
          runner: `modal-${job.id}-0`,
          sandbox: `modal-${job.id}-0`,
          sandboxId: expect.any(String),
          reason: expect.any(String),
        }),
      ]);
    });

    test("a failed repair is counted and tried again by the next pass", async () => {
      await idleRunnerOfCancelledJob();
      world.modal.failNext("sandboxTerminateV2", Status.PERMISSION_DENIED, 1);
      expect(await world.pass()).toMatchObject({ failed: 1, repaired: {} });
      // The registration is gone, the sandbox still runs: the next pass terminates it.
      expect(await world.pass()).toMatchObject({ failed: 0, repaired: { "terminate-finished": 1 } });
      expect(world.modal.running()).toHaveLength(0);
    });
  });
});

// One job, one runner, one sandbox through reconcile passes: a pass that observed a
// dispatch in flight serves nothing again, a dispatch cut off anywhere is served once by a
// fresh App, and a sandbox's end frees its slot and is charged once.
describe("one job, one runner", () => {
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
      world = await startOrgWorld();
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

    describe.each<CrashPoint>(["before registration", "after registration", "after the create request"])(
      "a dispatch cut off %s",
      (point) => {
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
      },
    );

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
});

// Installations come and go (issue 14, item 6), and a full sweep whose GitHub reads
// fail says so (issue 18): an owner who uninstalls or suspends the App leaves no
// sandbox running on our bill, with or without the event; a busy runner finishes
// its job; the pass reports GitHub's failure as GitHub's.
describe("installations come and go", () => {
  let world: ReconcileWorld;

  afterEach(() => closeChecked(world));

  /** An idle runner (it never connects) waiting for a job. */
  async function idleRunner(clock?: FastForwardClock) {
    world = await startReconcileWorld({ runner: { bootDelayMs: 60_000 }, clock });
    const job = world.queueJob();
    await world.github.deliverWorkflowJob("queued", job);
    await eventually(() => world.modal.running().length === 1, "the sandbox runs");
    await settled(world);
    expect((await world.pass()).repaired).toEqual({});
    return job;
  }

  const installationId = () => world.github.installations()[0]!.id;

  describe.each([
    ["uninstalled", () => world.github.uninstall(installationId(), { notify: false })],
    ["suspended", () => world.github.suspend(installationId(), true, { notify: false })],
  ])("an installation %s without an event reaching the App", (_, remove) => {
    test("its idle runner's sandbox is terminated within three passes", async () => {
      await idleRunner();
      await remove();
      const passes = [];
      for (let i = 0; i < 3 && world.modal.running().length > 0; i++) passes.push(await world.pass());
      expect(world.modal.running()).toHaveLength(0);
      expect(passes.at(-1)!.repaired).toEqual({ "reap-removed-installation": 1 });
      expect(world.modal.sandboxes()[0]).toMatchObject({ endedBy: "terminate" });
    });
  });

  test("the installation.deleted event: waiting jobs dropped, the idle sandbox reaped by the pass it asks for", async () => {
    const clock = new FastForwardClock();
    await idleRunner(clock);
    world.github.webhookUrl = world.app.webhookUrl;
    expect((await world.github.uninstall(installationId()))!.status).toBe(200);
    await settled(world);
    await clock.advance(1000); // the pass it asked for, soon
    await settled(world);
    expect(world.modal.running()).toHaveLength(0);
    // Its repositories are forgotten: a pass reads nothing of it (it has no token) and fails nothing.
    expect(await world.pass()).toMatchObject({ ok: true, failed: 0, checked: { repositories: 0 } });
  });

  test("installation.suspend then unsuspend: reaped while suspended; a full sweep after unsuspend serves what was queued meanwhile", async () => {
    const clock = new FastForwardClock();
    await idleRunner(clock);
    const id = installationId();
    await world.github.suspend(id, true);
    await settled(world);
    await clock.advance(1000); // the pass it asked for, soon
    await settled(world);
    expect(world.modal.running()).toHaveLength(0);
    world.github.webhookUrl = undefined; // GitHub sends nothing to a suspended installation
    await world.github.suspend(id, false, { notify: false });
    const queuedMeanwhile = world.queueJob();
    world.github.webhookUrl = world.app.webhookUrl;
    await world.github.suspend(id, false); // the unsuspend event asks for a full sweep, soon
    await settled(world);
    await clock.advance(1000);
    await settled(world);
    expect(world.modal.byName(`modal-${queuedMeanwhile.id}-0`)).toBeDefined(); // the job queued meanwhile is served
  });

  test("a busy runner of a removed installation finishes its job: its sandbox is left alone", async () => {
    world = await startReconcileWorld({ runner: { jobDurationMs: 60_000 } });
    const job = world.queueJob();
    await world.github.deliverWorkflowJob("queued", job);
    await eventually(() => world.github.job(job.id)?.status === "in_progress", "the job runs");
    await settled(world);
    await world.pass();
    await world.github.uninstall(installationId(), { notify: false });
    for (let i = 0; i < 3; i++) expect((await world.pass()).repaired).toEqual({});
    expect(world.modal.running()).toHaveLength(1);
  });

  test("a full sweep whose installation list fails reports GitHub, not Modal, and still repairs what it saw", async () => {
    await idleRunner();
    world.github.failNext({ method: "GET", route: "/app/installations" }, { status: 500 }, 10);
    world.github.cancelJob(world.github.jobs()[0]!.id); // the idle runner is now surplus
    await world.github.settle();
    await world.app.parts.reconciler.idle();
    const summary = await world.app.parts.reconciler.run({ full: true, reason: "test" });
    expect(summary.ok).toBe(false);
    expect(summary.problem).toMatch(/^could not observe GitHub: /);
    expect(summary.problem).not.toMatch(/Modal/);
    expect(summary.repaired).toEqual({ "remove-surplus-runner": 1 });
    // Readiness names GitHub too, not Modal.
    const lastPass = world.app.parts.telemetry.problems().filter((problem) => problem.startsWith("the last reconcile pass"));
    expect(lastPass).toEqual([expect.stringMatching(/failed: could not observe GitHub: the App's installations: /)]);
    expect(lastPass[0]).not.toMatch(/Modal/);
  });

  test("installation_repositories.removed: that repository's waiting jobs are dropped, others wait on; malformed events change nothing", async () => {
    world = await startReconcileWorld({ repositories: ["app", "other"] });
    world.modal.setOutage(true); // jobs wait for Modal
    const kept = world.queueJob(["self-hosted", "modal"], { repo: "other" });
    const dropped = world.queueJob();
    for (const job of [dropped, kept]) await world.github.deliverWorkflowJob("queued", job);
    // Both wait for Modal (one of them may meanwhile be tried as Modal's probe): neither is over.
    const bothActive = () =>
      [dropped, kept].every((job) => !["finished", undefined].includes(world.app.parts.dispatcher.jobState(job.id)?.state));
    await eventually(() => bothActive() && world.app.parts.fleet.breaker.state().state === "open", "both jobs wait for Modal");

    for (const body of [
      { action: "removed", installation: { id: "1" }, repositories_removed: [{ full_name: "octo-org/other" }] },
      { action: "removed", installation: { id: installationId() }, repositories_removed: "octo-org/other" },
      { action: "deleted", installation: null },
    ])
      expect((await world.github.deliverRaw("installation_repositories", JSON.stringify(body))).status).toBeLessThan(300);
    expect(bothActive()).toBe(true);

    // The dropped job may be Modal's probe at this moment, its create in flight (the SDK retries
    // a refused create for many seconds): then it is marked over, and its attempt, when it ends
    // without a runner, forgets it (dispatcher.test.ts, "a job GitHub says is over while its
    // attempt is in flight"). A waiting job is dropped at once.
    const inFlight = ["registering", "creating"].includes(world.app.parts.dispatcher.jobState(dropped.id)?.state ?? "");
    expect((await world.github.removeRepositoryFromInstallation("octo-org/app"))!.status).toBeLessThan(300);
    // The kept job is still being served (waiting, or meanwhile tried as Modal's probe); the other is dropped.
    expect(world.app.parts.dispatcher.jobState(kept.id)?.state).not.toBe("finished");
    if (!inFlight) expect(world.app.parts.dispatcher.jobState(dropped.id)).toMatchObject({ state: "finished", kind: "forgotten" });
    expect(world.app.parts.dispatcher.waiting().map((job) => job.id)).not.toContain(dropped.id);
    world.modal.setOutage(false);
  });
});

// What each reconcile pass reads and checks: its GitHub bill between full sweeps, and the
// jobs our busy runners took (policy per pass).
describe("what each pass reads and checks", () => {
  // The reconciler's API bill: between full sweeps it grows with the sandboxes and
  // the repositories that are active, not with every repository the App can see;
  // repeated reads are conditional and mostly answered 304.
  describe("api cost", () => {
    let world: World;

    afterEach(async () => {
      await world.close();
    });

    /** N idle sandboxes (runners that never connect) for N queued jobs in one repository, R repositories in all. */
    async function fleetOf(sandboxes: number, repositories: number) {
      world = await startWorld();
      const installation = world.github.addInstallation({ account: "octo-org", accountType: "Organization" });
      for (let i = 0; i < repositories; i++)
        world.github.addRepository({ installationId: installation.id, owner: "octo-org", name: `repo-${i}` });
      const app = await world.startApp({ ...FAST_RECONCILE, UNSERVED_JOB_GRACE: "1h" });
      for (let i = 0; i < sandboxes; i++) {
        await world.github.deliverWorkflowJob("queued", world.github.queueJob({ owner: "octo-org", repo: "repo-0", labels: ["modal"] }));
      }
      await settled(world);
      expect(world.modal.running()).toHaveLength(sandboxes);
      return app;
    }

    async function costOfPasses(app: Awaited<ReturnType<typeof fleetOf>>) {
      const full = await app.parts.reconciler.run({ full: true, reason: "test" });
      const requestsBefore = world.github.requests.length;
      const incremental = await app.parts.reconciler.run({ reason: "test" });
      await app.parts.reconciler.idle(); // the redelivery round runs beside the pass
      const notModified = world.github.requests.slice(requestsBefore).filter((request) => request.status === 304).length;
      expect(full.repaired).toEqual({});
      expect(incremental.repaired).toEqual({});
      return { full: full.apiCalls, incremental: incremental.apiCalls, notModified };
    }

    test("a pass costs the same with 5 or 40 repositories between full sweeps, and a full sweep grows with them", async () => {
      const few = await costOfPasses(await fleetOf(3, 5));
      await world.close();
      const many = await costOfPasses(await fleetOf(3, 40));

      expect(many.incremental).toEqual(few.incremental);
      expect(many.full.github).toBeGreaterThan(few.full.github + 35 * 2 - 1); // two run listings per extra repository
      // The incremental pass: one page of the Modal list and the empty page that ends it; at GitHub
      // the App's installations (sandboxes exist: are their installations still there?), one
      // runner listing (the org scope), one listing of the App's failed deliveries (none: so no
      // listing of successes) and, for the one active repository, two run listings; no run
      // changed since the full sweep, so no job listing.
      expect(few.incremental).toEqual({ modal: 2, github: 1 + 1 + 1 + 2 });
      // Everything it read was unchanged since the full sweep: every read was answered 304.
      expect(few.notModified).toBe(few.incremental.github);
    });

    test("a pass costs one Modal call per 100 sandboxes (and one for the empty last page)", async () => {
      const small = await costOfPasses(await fleetOf(2, 1));
      await world.close();
      const large = await costOfPasses(await fleetOf(12, 1));
      expect(small.incremental.modal).toBe(2);
      expect(large.incremental.modal).toBe(2);
      // GitHub: runs unchanged since the last pass are not read again, however many there are.
      expect(large.incremental.github).toBe(small.incremental.github);
    });
  });

  // Policy per pass (issue 14, item 5): a runner of ours takes a job policy refuses and
  // the in_progress webhook is lost. The next pass finds the busy runner in GitHub's
  // runner list, its job among the run's jobs (runner_name), checks it against policy,
  // and the AssignmentGuard stops the sandbox.
  describe("assignments", () => {
    let world: ReconcileWorld;

    afterEach(() => closeChecked(world));

    test("a refused job taken by our runner, its in_progress event lost, is stopped by the next pass; an allowed one is left alone", async () => {
      world = await startReconcileWorld({
        env: { RUNNER_SCOPE: "org", DENIED_REPOSITORIES: "octo-org/secret", UNSERVED_JOB_GRACE: "1h" },
        repositories: ["app", "secret"],
        runner: { bootDelayMs: 60_000 }, // runners connect when the test says
      });
      const denied = world.github.queueJob({
        owner: "octo-org",
        repo: "secret",
        labels: ["self-hosted", "modal"],
        createdAt: new Date(Date.now() - 60_000),
      });
      const allowed = [0, 1].map(() => world.queueJob());
      for (const job of [denied, ...allowed]) await world.github.deliverWorkflowJob("queued", job);
      await eventually(() => world.modal.running().length === 2, "a runner for each allowed job");
      await settled(world);

      world.github.webhookUrl = undefined; // the in_progress events are lost
      const runnerOf = (jobId: number) => world.github.runners().find((runner) => runner.name === `modal-${jobId}-0`)!;
      for (const job of allowed) world.github.connectRunner(runnerOf(job.id).jitConfig);
      expect(world.github.acquireJob(runnerOf(allowed[0]!.id).id)?.id).toBe(denied.id);
      expect(world.github.acquireJob(runnerOf(allowed[1]!.id).id)?.id).toBe(allowed[0]!.id);
      await world.github.settle();
      expect(world.modal.running()).toHaveLength(2); // nothing told the App

      const summary = await world.pass();
      expect(summary.checked.assignments).toBe(2);
      await world.app.parts.idle();
      expect(world.modal.sandboxes().find((sandbox) => sandbox.name === `modal-${allowed[0]!.id}-0`)).toMatchObject({
        endedBy: "terminate",
      });
      // The second allowed job, whose runner (busy in GitHub's list) the first took, is served again at once, grace or not.
      expect(
        world.modal
          .running()
          .map((sandbox) => sandbox.name)
          .sort(),
      ).toEqual([`modal-${allowed[1]!.id}-0`, `modal-${allowed[1]!.id}-1`]);
      // Each assignment is checked once: the next pass does not check them again.
      expect((await world.pass()).checked.assignments).toBe(0);
    });
  });
});
