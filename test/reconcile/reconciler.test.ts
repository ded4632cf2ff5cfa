// The reconciler against the fakes, one scenario per promise it makes: no job is
// lost, no sandbox leaks, no runner is killed mid-job.
import { Status } from "nice-grpc";
import { eventually, settled } from "../support/app-harness.js";
import { FastForwardClock } from "../support/fast-forward-clock.js";
import { FAST_RECONCILE, closeChecked, startReconcileWorld, type ReconcileWorld } from "./reconcile-world.js";

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
    expect(repairLines()[0]).toMatchObject({ jobId: newer.id, attempt: 1, reason: expect.stringContaining("its runner took another job") });
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
    expect(world.github.requests.filter((request) => request.route.endsWith("generate-jitconfig") && request.status === 201)).toHaveLength(
      3,
    );
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
