// GitHub gives a delivery 10 s and never retries it: the App answers before it
// talks to GitHub or Modal, and does the slow work afterwards, a bounded number of
// jobs at a time.
import { eventually, settled, startOrgWorld, type World } from "../support/app-harness.js";
import { ManualClock } from "../support/manual-clock.js";

let world: World;

afterEach(async () => {
  world.github.assertNoViolations();
  await world.close();
});

test("the webhook is answered well under a second while sandbox creation takes 15 s", async () => {
  // Modal's 15 s pass on a clock of the fake's own: the create answers only when the test advances it.
  const modalTime = new ManualClock();
  world = await startOrgWorld({ modalLatencyTimers: modalTime });
  await world.startApp();
  world.modal.methodLatencyMs.sandboxCreateV2 = 15_000;
  const job = world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["modal"] });

  const delivery = await world.github.deliverWorkflowJob("queued", job);

  expect(delivery.status).toBe(200);
  expect(delivery.ms).toBeLessThan(1000);
  expect(world.modal.sandboxes()).toHaveLength(0);
  await eventually(() => world.modal.calls.some((call) => call.method === "sandboxCreateV2"), "the create is under way");
  await modalTime.advance(14_000);
  expect(world.modal.sandboxes()).toHaveLength(0);
  await modalTime.advance(1_000);
  await eventually(() => world.modal.running().length === 1, "the slow sandbox runs");
  await settled(world);
  expect(world.github.runners()).toHaveLength(1);
});

test("dispatch runs after the answer with bounded concurrency", async () => {
  // Modal's creates take 300 ms of a clock of the fake's own, moved on by the test until every job has its sandbox.
  const modalTime = new ManualClock();
  world = await startOrgWorld({ modalLatencyTimers: modalTime });
  await world.startApp({ DISPATCH_CONCURRENCY: "2" });
  world.modal.methodLatencyMs.sandboxCreateV2 = 300;
  const jobs = Array.from({ length: 6 }, () => world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["modal"] }));

  const deliveries = await Promise.all(jobs.map((job) => world.github.deliverWorkflowJob("queued", job)));

  expect(deliveries.every((delivery) => delivery.status === 200 && delivery.ms < 1000)).toBe(true);
  // Two at a time: each round, two creates are in flight before Modal's 300 ms are skipped.
  for (let running = 0; running < 6; running = world.modal.running().length) {
    const expected = Math.min(2, 6 - running);
    await eventually(() => modalTime.pendingTimers() === expected, `${expected} creates in flight`);
    await modalTime.advance(300);
  }
  expect(world.modal.mostInFlight("sandboxCreateV2")).toBe(2);
});
