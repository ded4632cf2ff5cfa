// How the App takes webhooks: answered at once while the work happens after, bad
// deliveries refused with nothing created, and deliveries through a WEBHOOK_PROXY_URL
// channel served like direct ones. One file (one load of the App's modules) for these cases.
import { type World, eventually, settled, startOrgWorld } from "../support/app-harness.js";
import { ManualClock } from "../support/manual-clock.js";
import { linesWith, outcomes } from "../support/outcomes.js";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { sign } from "@modal-github-runner/simulator/github/webhooks";

// GitHub gives a delivery 10 s and never retries it: the App answers before it
// talks to GitHub or Modal, and does the slow work afterwards, a bounded number of
// jobs at a time.
describe("ack fast", () => {
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
});

// Bad deliveries get a clear answer or a logged rejection, create nothing, and the
// App keeps serving.
describe("bad input", () => {
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
});

// WEBHOOK_PROXY_URL (development): deliveries GitHub makes to a smee.io-style channel
// reach the App's webhook path and are served like direct ones. The channel here is
// a small server-sent-events endpoint on loopback that speaks smee's format.
describe("webhook proxy", () => {
  let world: World;
  let channel: http.Server;
  afterEach(async () => {
    await world.close();
    channel.closeAllConnections();
    await new Promise((resolve) => channel.close(resolve));
  });

  test("a delivery through the proxy channel is verified and served", async () => {
    world = await startOrgWorld();
    const job = world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["modal"] });
    const payload = world.github.workflowJobPayload("queued", job);
    const body = JSON.stringify(payload);
    // smee's event: the delivery's headers as fields, its JSON body under "body".
    const event = {
      "x-github-event": "workflow_job",
      "x-github-delivery": "proxy-delivery-1",
      "x-hub-signature-256": sign(world.github.webhookSecret, body),
      body: payload,
    };
    channel = http.createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      res.write(`event: ready\ndata: {}\n\n`);
      res.write(`data: ${JSON.stringify(event)}\n\n`);
    });
    await new Promise<void>((resolve) => channel.listen(0, "127.0.0.1", resolve));
    world.github.webhookUrl = "http://127.0.0.1:9/unused"; // GitHub delivers only to the channel here

    await world.startApp({ WEBHOOK_PROXY_URL: `http://127.0.0.1:${(channel.address() as AddressInfo).port}/channel` });
    await eventually(() => world.modal.running().length === 1, "the proxied job is served");
    await settled(world);
    expect(world.modal.running()[0]!.name).toBe(`modal-${job.id}-0`);
  });
});
