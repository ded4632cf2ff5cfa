// Bad deliveries get a clear answer or a logged rejection, create nothing, and the
// App keeps serving.
import { eventually, settled, startOrgWorld, type World } from "../support/app-harness.js";
import { linesWith, outcomes } from "../support/outcomes.js";

let world: World;

beforeEach(async () => {
  world = await startOrgWorld();
});

afterEach(async () => {
  world.github.assertNoViolations();
  await world.close();
});

const queueJob = () => world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["modal"] });

async function expectStillServing() {
  await world.github.deliverWorkflowJob("queued", queueJob());
  await eventually(() => world.modal.running().length === 1, "a later valid job is served");
}

test.each([
  ["a wrong signature", "wrong", 400, /signature does not match/],
  ["a missing signature", "missing", 400, /Required headers missing: x-hub-signature-256/],
] as const)("%s is refused", async (_name, signature, status, message) => {
  await world.startApp();
  const delivery = await world.github.deliverWorkflowJob("queued", queueJob(), { signature });
  expect(delivery.status).toBe(status);
  expect(delivery.body).toMatch(message);
  await settled(world);
  expect(world.github.requests).toHaveLength(0);
  expect(world.modal.sandboxes()).toHaveLength(0);
  await expectStillServing();
});

test("malformed JSON is refused", async () => {
  await world.startApp();
  const delivery = await world.github.deliverRaw("workflow_job", '{"action":"queued","workflow_job":');
  expect(delivery.status).toBe(400);
  expect(world.github.requests).toHaveLength(0);
  await expectStillServing();
});

test("a payload without an installation is rejected in the log", async () => {
  const app = await world.startApp();
  const job = queueJob();
  const delivery = await world.github.deliverWorkflowJob("queued", job, { omitInstallation: true });
  expect(delivery.status).toBe(200);
  await settled(world);
  expect(linesWith(app, { deliveryId: delivery.deliveryId, level: 40 })).toEqual([
    expect.objectContaining({ jobId: job.id, reason: "the delivery names no installation" }),
  ]);
  expect(world.github.requests).toHaveLength(0);
  await expectStillServing();
});

test("an installation GitHub does not know is rejected in the log", async () => {
  const app = await world.startApp();
  const job = queueJob();
  await world.github.deliverWorkflowJob("queued", job, { installationId: 987654 });
  await eventually(() => outcomes(app, { jobId: job.id, kind: "failed" }).length === 1, "the job is recorded as failed");
  expect(outcomes(app, { jobId: job.id })).toEqual([
    expect.objectContaining({ kind: "failed", reason: expect.stringContaining("does not know this installation") }),
  ]);
  expect(linesWith(app, { jobId: job.id, level: 50 })).toEqual([
    expect.objectContaining({
      installationId: 987654,
      reason: expect.stringContaining("does not know this installation"),
      retryable: false,
    }),
  ]);
  expect(world.github.runners()).toHaveLength(0);
  expect(world.modal.sandboxes()).toHaveLength(0);
  await expectStillServing();
});

test("a payload of the wrong shape is rejected in the log", async () => {
  const app = await world.startApp();
  const body = JSON.stringify({ action: "queued", workflow_job: { id: "x" }, installation: { id: 1 } });
  const delivery = await world.github.deliverRaw("workflow_job", body);
  expect(delivery.status).toBe(200);
  expect(linesWith(app, { deliveryId: delivery.deliveryId, level: 40 })).toEqual([
    expect.objectContaining({ reason: expect.stringMatching(/^malformed payload: workflow_job.id/) }),
  ]);
  expect(world.github.requests).toHaveLength(0);
  await expectStillServing();
});
