// Failed workflow_job deliveries are redelivered once each, through GitHub's delivery
// log on the fake GitHub; a redelivery that fails again is asked for again only after
// a backoff, a bounded number of times.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createOctokitClass } from "../../src/github/create-octokit-class.js";
import { createRedeliveryState, redeliverFailedDeliveries, type RedeliveryOptions } from "../../src/github/redeliver-failed-deliveries.js";
import { DEFAULT_PERMISSIONS, FakeGitHub } from "@modal-github-runner/simulator/fake-github";

const Octokit = createOctokitClass({ retryBaseMs: 1, rateLimitBaseMs: 1, maxRateLimitWaitSeconds: 60, maxRetries: 1 });

let gh: FakeGitHub;
let receiver: http.Server;
const received: string[] = [];
const INST = 1001;
let clock = Date.now();
const now = () => clock;

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      received.push(String(req.headers["x-github-delivery"]));
      res.writeHead(202).end("ok");
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", () => r()));
});

// A fresh GitHub per test: each test reads the whole delivery log.
beforeEach(async () => {
  gh = await FakeGitHub.start();
  gh.webhookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/api/github/webhooks`;
  gh.addInstallation({ id: INST, account: "acme", permissions: { ...DEFAULT_PERMISSIONS } });
  gh.addRepository({ installationId: INST, owner: "acme", name: "api" });
  received.length = 0;
  clock = Date.now();
});

afterEach(async () => {
  await gh?.close();
});

afterAll(async () => {
  await new Promise<void>((r) => receiver.close(() => r()));
});

const appOctokit = () => new Octokit({ auth: { appId: gh.appId, privateKey: gh.privateKey }, baseUrl: gh.baseUrl });
const options: Partial<RedeliveryOptions> = { now, backoffBaseMs: 60_000, backoffMaxMs: 240_000, maxAttempts: 3, perPage: 10 };

async function failedDeliveries(n: number): Promise<string[]> {
  gh.hookDeliveries.ingressDown = true;
  const guids: string[] = [];
  for (let i = 0; i < n; i++) {
    const job = gh.queueJob({ owner: "acme", repo: "api", labels: ["modal"] });
    guids.push((await gh.deliverWorkflowJob("queued", job)).deliveryId);
  }
  gh.hookDeliveries.ingressDown = false;
  return guids;
}

/** Redelivery requests made in this test (ids), per GUID. */
function requestsPerGuid(since: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (const id of gh.hookDeliveries.redeliveryRequests.slice(since)) {
    const guid = gh.hookDeliveries.find(id)!.guid;
    counts.set(guid, (counts.get(guid) ?? 0) + 1);
  }
  return counts;
}

test("each failed workflow_job.queued delivery is redelivered once, across pages; other events and successes are left alone", async () => {
  const state = createRedeliveryState(now(), 10 * 60_000);
  const before = gh.hookDeliveries.redeliveryRequests.length;
  const failed = await failedDeliveries(25); // three pages of 10
  gh.hookDeliveries.ingressDown = true;
  await gh.deliverRaw("ping", JSON.stringify({ zen: "Keep it logically awesome." }));
  gh.hookDeliveries.ingressDown = false;
  await gh.deliverWorkflowJob("queued", gh.queueJob({ owner: "acme", repo: "api", labels: ["modal"] })); // succeeds

  const first = await redeliverFailedDeliveries(appOctokit(), state, { ...options, maxRequests: 30 });
  await gh.settle();
  expect(first).toMatchObject({ requested: 25, skipped: 0, failed: 0 });
  expect(first.listed).toBeGreaterThanOrEqual(27);
  expect([...requestsPerGuid(before).keys()].sort()).toEqual([...failed].sort());
  expect(received.filter((guid) => failed.includes(guid))).toHaveLength(25);

  // the next look sees the same failures again (overlap) but their GUIDs got through
  clock += 30_000;
  const second = await redeliverFailedDeliveries(appOctokit(), state, options);
  expect(second).toMatchObject({ requested: 0, skipped: 25 });
  expect(state.asked.size).toBe(0);
  expect(gh.hookDeliveries.redeliveryRequests.length - before).toBe(25);
  gh.assertNoViolations();
});

test("failed in_progress and completed deliveries are not asked for: the reconciler reads runners and jobs itself", async () => {
  const state = createRedeliveryState(now(), 10 * 60_000);
  const before = gh.hookDeliveries.redeliveryRequests.length;
  const [queued] = await failedDeliveries(1);
  gh.hookDeliveries.ingressDown = true;
  const job = gh.queueJob({ owner: "acme", repo: "api", labels: ["modal"] });
  await gh.deliverWorkflowJob("in_progress", job);
  await gh.deliverWorkflowJob("completed", job);
  gh.hookDeliveries.ingressDown = false;

  const summary = await redeliverFailedDeliveries(appOctokit(), state, options);
  await gh.settle();
  expect(summary).toMatchObject({ requested: 1, failed: 0 });
  expect([...requestsPerGuid(before).keys()]).toEqual([queued]);
  gh.assertNoViolations();
});

test("at most maxRequests redeliveries per call; the rest are asked for by the next calls, each once", async () => {
  const state = createRedeliveryState(now(), 10 * 60_000);
  const before = gh.hookDeliveries.redeliveryRequests.length;
  const failed = await failedDeliveries(25);
  const requested: number[] = [];
  for (let call = 0; call < 4; call++) {
    requested.push((await redeliverFailedDeliveries(appOctokit(), state, { ...options, maxRequests: 10 })).requested);
    await gh.settle();
    clock += 30_000;
  }
  expect(requested).toEqual([10, 10, 5, 0]);
  const perGuid = requestsPerGuid(before);
  expect([...perGuid.keys()].sort()).toEqual([...failed].sort());
  expect([...perGuid.values()].every((count) => count === 1)).toBe(true);
  gh.assertNoViolations();
});

test("a redelivery that fails again is asked for again after a doubling backoff, then given up", async () => {
  const state = createRedeliveryState(now(), 10 * 60_000);
  const before = gh.hookDeliveries.redeliveryRequests.length;
  const [guid] = await failedDeliveries(1);
  gh.hookDeliveries.ingressDown = true; // still down: every redelivery fails

  const asks: number[] = [];
  for (let minute = 0; minute <= 10; minute++) {
    const summary = await redeliverFailedDeliveries(appOctokit(), state, { ...options, overlapMs: 10 * 60_000 });
    await gh.settle();
    asks.push(summary.requested);
    clock += 60_000;
  }
  // asked at once; its failure is seen a minute later, when the 1-minute backoff is over;
  // the second failure waits 2 minutes; then never again (maxAttempts 3)
  expect(asks).toEqual([1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
  expect(requestsPerGuid(before).get(guid!)).toBe(3);
  gh.assertNoViolations();
});

test("a refused request for redelivery is counted as failed and asked again after the backoff", async () => {
  const state = createRedeliveryState(now(), 10 * 60_000);
  await failedDeliveries(1);
  gh.failNext({ method: "POST", route: "/app/hook/deliveries/{delivery_id}/attempts" }, { status: 422 });
  const first = await redeliverFailedDeliveries(appOctokit(), state, options);
  expect(first).toMatchObject({ requested: 0, failed: 1 });
  expect(first.failures[0]).toMatch(/422/);
  const soon = await redeliverFailedDeliveries(appOctokit(), state, options);
  expect(soon).toMatchObject({ requested: 0, failed: 0 });
  clock += 60_000;
  const later = await redeliverFailedDeliveries(appOctokit(), state, options);
  expect(later).toMatchObject({ requested: 1, failed: 0 });
  await gh.settle();
});

test("deliveries older than the last look are not listed again", async () => {
  await failedDeliveries(2);
  const state = createRedeliveryState(now() + 120_000, 0); // as if the last look were after them
  const summary = await redeliverFailedDeliveries(appOctokit(), state, options);
  expect(summary).toMatchObject({ listed: 0, requested: 0 });
});

test("the state stays bounded", async () => {
  const state = createRedeliveryState(now(), 10 * 60_000);
  gh.hookDeliveries.ingressDown = true;
  await failedDeliveries(5);
  gh.hookDeliveries.ingressDown = true;
  await redeliverFailedDeliveries(appOctokit(), state, { ...options, maxTracked: 3 });
  await gh.settle();
  expect(state.asked.size).toBe(3);
});
