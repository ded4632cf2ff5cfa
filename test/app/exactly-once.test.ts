// One queued job, one runner, one sandbox: across redeliveries, concurrent
// duplicates, two replicas, lost answers and leftovers of failed attempts.
import { Status } from "nice-grpc";
import { attachSimulatedRunners } from "@modal-github-runner/simulator/simulated-runner";
import { eventually, settled, startOrgWorld, type World } from "../support/app-harness.js";
import { FastForwardClock } from "../support/fast-forward-clock.js";
import { outcomes } from "../support/outcomes.js";

let world: World;

beforeEach(async () => {
  world = await startOrgWorld();
});

afterEach(async () => {
  world.github.assertNoViolations();
  await world.close();
});

const queueJob = () => world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["self-hosted", "modal"] });
const registrations = () =>
  world.github.requests.filter((request) => request.route.endsWith("/generate-jitconfig") && request.status === 201);

test("a redelivered webhook (same delivery id) is acknowledged and ignored: no second runner or sandbox", async () => {
  await world.startApp();
  const job = queueJob();
  const first = await world.github.deliverWorkflowJob("queued", job);
  await eventually(() => world.modal.running().length === 1, "a sandbox runs");
  await settled(world);

  const replay = await world.github.deliverWorkflowJob("queued", job, { deliveryId: first.deliveryId });
  await settled(world);

  expect(replay.status).toBe(200);
  expect(registrations()).toHaveLength(1);
  expect(world.modal.sandboxes()).toHaveLength(1);
  // The delivery-id window drops the replay before the dispatcher sees it.
  expect(outcomes(world.apps[0]!, { jobId: job.id }).map((outcome) => outcome.kind)).toEqual(["started"]);
});

test("the same job delivered again under a new delivery id still creates no second runner or sandbox", async () => {
  await world.startApp();
  const job = queueJob();
  await world.github.deliverWorkflowJob("queued", job);
  await eventually(() => world.modal.running().length === 1, "a sandbox runs");
  await settled(world);

  const before = world.github.requests.length;
  await world.github.deliverWorkflowJob("queued", job);
  await settled(world);

  expect(registrations()).toHaveLength(1);
  expect(world.modal.sandboxes()).toHaveLength(1);
  expect(outcomes(world.apps[0]!, { jobId: job.id }).map((outcome) => outcome.kind)).toEqual(["started", "already-served"]);
  // Its runner was started here: no second registration is even tried (a 409 to examine), nor the job looked up.
  expect(world.github.requests.slice(before)).toEqual([]);
});

test("a late redelivery after the job ran and its runner left starts nothing", async () => {
  await world.startApp();
  const runners = attachSimulatedRunners(world.modal, world.github, { bootDelayMs: 10, jobDurationMs: 10 });
  const job = queueJob();
  const first = await world.github.deliverWorkflowJob("queued", job);
  await eventually(
    () => world.github.jobs()[0]!.status === "completed" && world.modal.running().length === 0,
    "the job ran and its sandbox ended",
  );
  await settled(world);
  expect(world.github.runners()).toHaveLength(0); // the ephemeral runner deregistered: its name is free again

  await world.github.deliverWorkflowJob("queued", job, { deliveryId: first.deliveryId });
  await settled(world);

  expect(registrations()).toHaveLength(1);
  expect(world.modal.sandboxes()).toHaveLength(1);
  runners.stop();
});

const jobLookUps = () => world.github.requests.filter((request) => request.route === "/repos/{owner}/{repo}/actions/jobs/{job_id}");

test("a fresh queued webhook registers the job's runner without asking GitHub again whether it is queued", async () => {
  await world.startApp();
  const job = queueJob();
  await world.github.deliverWorkflowJob("queued", job);
  await eventually(() => world.modal.running().length === 1, "a sandbox runs");
  await settled(world);

  expect(jobLookUps()).toHaveLength(0);
  expect(registrations().map((request) => (request.body as { name: string }).name)).toEqual([`modal-${job.id}-0`]);
});

test("a queued webhook that comes late (the job is no longer young) is checked first: a job cancelled meanwhile gets no runner", async () => {
  await world.startApp();
  // Older than GitHub's 10 s delivery timeout: what a redelivery of a failed delivery looks like.
  const job = world.github.queueJob({
    owner: "octo-org",
    repo: "app",
    labels: ["self-hosted", "modal"],
    createdAt: new Date(Date.now() - 30_000),
  });
  world.github.cancelJob(job.id);
  await settled(world);

  await world.github.deliverWorkflowJob("queued", job);
  await settled(world);

  expect(jobLookUps().map((request) => request.status)).toEqual([200]);
  expect(registrations()).toHaveLength(0);
  expect(world.modal.sandboxes()).toHaveLength(0);
  expect(outcomes(world.apps[0]!, { jobId: job.id }).map((outcome) => outcome.kind)).toEqual(["not-queued"]);
});

test("concurrent duplicate deliveries yield one runner and one sandbox", async () => {
  await world.startApp();
  world.modal.methodLatencyMs.sandboxCreateV2 = 200;
  const job = queueJob();

  const deliveries = await Promise.all(Array.from({ length: 5 }, () => world.github.deliverWorkflowJob("queued", job)));
  expect(deliveries.map((delivery) => delivery.status)).toEqual([200, 200, 200, 200, 200]);
  await eventually(() => world.modal.running().length === 1, "a sandbox runs");
  await settled(world);

  expect(registrations()).toHaveLength(1);
  expect(world.modal.sandboxes()).toHaveLength(1);
});

test("two replicas receiving the same job yield one runner and one sandbox", async () => {
  const clock = new FastForwardClock(); // both replicas' time: the grace is skipped, not waited for
  const a = await world.startApp({ REGISTRATION_GRACE: "1s" }, { clock });
  const b = await world.startApp({ REGISTRATION_GRACE: "1s" }, { clock });
  world.modal.methodLatencyMs.sandboxCreateV2 = 300;
  const job = queueJob();

  world.github.webhookUrl = a.webhookUrl;
  const toA = world.github.deliverWorkflowJob("queued", job);
  world.github.webhookUrl = b.webhookUrl;
  const toB = world.github.deliverWorkflowJob("queued", job);
  expect((await Promise.all([toA, toB])).map((delivery) => delivery.status)).toEqual([200, 200]);

  // The replica that lost the race to GitHub sees the name taken and, once its
  // grace period is over, the winner's sandbox running.
  await settled(world); // the winner's sandbox runs; the loser waits out the grace
  await clock.advance(1_000);
  const last = () => [a, b].map((app) => outcomes(app, { jobId: job.id }).at(-1)?.kind).sort();
  await eventually(() => last().join() === "already-served,started", "one replica starts the runner, the other stands down", 5000);
  await settled(world);
  expect(registrations()).toHaveLength(1);
  expect(world.modal.sandboxes()).toHaveLength(1);
  expect(world.github.runners()).toHaveLength(1);
});

test("a registration left by an attempt that failed to create its sandbox is replaced", async () => {
  const clock = new FastForwardClock(); // the grace is skipped, not waited for
  await world.startApp({ REGISTRATION_GRACE: "300ms" }, { clock });
  const job = queueJob();
  // The first attempt registers the runner, Modal refuses the sandbox, and the
  // clean-up of the registration fails too: a leftover, as after a crash.
  world.modal.failNext("sandboxCreateV2", Status.FAILED_PRECONDITION);
  world.github.failNext({ method: "DELETE", route: "/orgs/{org}/actions/runners/{runner_id}" }, { status: 500 }, 4);
  await world.github.deliverWorkflowJob("queued", job);
  await settled(world);
  expect(world.github.runners()).toHaveLength(1);
  expect(world.modal.sandboxes()).toHaveLength(0);

  await world.github.deliverWorkflowJob("queued", job);
  await settled(world); // the name is taken by a registration without a sandbox: the attempt waits out the grace
  await clock.advance(300);
  await eventually(() => world.modal.running().length === 1, "a sandbox runs");
  await settled(world);

  const [runner] = world.github.runners();
  expect(world.github.runners()).toHaveLength(1);
  expect(world.modal.running()[0]!.tags.runner_id).toBe(String(runner!.id));
  expect(registrations()).toHaveLength(2);
  // The leftover was deleted before the name was registered again.
  expect(world.github.requests.filter((request) => request.method === "DELETE").map((request) => request.status)).toEqual([
    500, 500, 500, 500, 204,
  ]);
});

test("a sandbox created although Modal's answer was lost is recognised as ours", async () => {
  await world.startApp();
  world.modal.failNextAfterEffect("sandboxCreateV2", Status.UNAVAILABLE);
  const job = queueJob();

  await world.github.deliverWorkflowJob("queued", job);
  await eventually(() => outcomes(world.apps[0]!, { jobId: job.id, kind: "started" }).length === 1, "the runner is reported started");
  await settled(world);

  expect(world.modal.sandboxes()).toHaveLength(1);
  expect(world.github.runners()).toHaveLength(1);
  expect(world.modal.running()[0]!.tags.runner_id).toBe(String(world.github.runners()[0]!.id));
});

test("a sandbox left from an earlier, deleted registration of the name is replaced", async () => {
  await world.startApp();
  const job = queueJob();
  const modal = world.modal.client();
  const app = await modal.apps.fromName("github-actions-runners", { createIfMissing: true });
  const stale = await modal.sandboxes.create(app, modal.images.fromRegistry("busybox"), {
    name: `modal-${job.id}-0`,
    tags: { runner_id: "999" },
  });

  await world.github.deliverWorkflowJob("queued", job);
  await eventually(() => outcomes(world.apps[0]!, { jobId: job.id, kind: "started" }).length === 1, "the runner is reported started");

  expect(world.modal.sandbox(stale.sandboxId)).toMatchObject({ state: "finished", endedBy: "terminate" });
  expect(world.modal.running()).toEqual([
    expect.objectContaining({
      name: `modal-${job.id}-0`,
      tags: expect.objectContaining({ runner_id: String(world.github.runners()[0]!.id) }),
    }),
  ]);
});
