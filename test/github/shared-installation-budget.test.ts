// The fleet's budget on a real redis-server: two replicas (two connections, two
// SharedInstallationBudgets for one installation) together keep GitHub's window, see
// each other's pauses, get back the slots of a replica that died, and fall back to a
// conservative local share when Redis goes away. Time is real but the window is short.
import { pino } from "pino";
import { GITHUB_SECONDARY_LIMITS, type BudgetLimits } from "../../src/github/installation-budget.js";
import { SharedInstallationBudget } from "../../src/github/shared-installation-budget.js";
import { systemClock } from "../../src/lib/clock.js";
import { RedisLink } from "../../src/replicas/redis-link.js";
import { startRedisServer, type RedisServer } from "../support/redis-server.js";

const WRITE = 5;
let redis: RedisServer;
const links: RedisLink[] = [];
let installation = 1000;

beforeAll(async () => {
  redis = await startRedisServer();
});
afterEach(async () => {
  await Promise.all(links.splice(0).map((link) => link.close()));
});
afterAll(async () => {
  await redis.stop();
});

async function replica(name: string): Promise<RedisLink> {
  const link = new RedisLink(redis.url, pino({ level: "silent" }), { replica: name });
  links.push(link);
  await link.ready();
  return link;
}

function budgetOf(link: RedisLink, key: number, limits: Partial<BudgetLimits>, extra: { lapseMs?: number; fleetSize?: number } = {}) {
  return new SharedInstallationBudget({
    link,
    key,
    limits: { ...GITHUB_SECONDARY_LIMITS, ...limits },
    clock: systemClock,
    fleetSize: () => extra.fleetSize ?? 2,
    lapseMs: extra.lapseMs,
  });
}

/** The largest sum of costs granted within any `windowMs` (by grant time). */
function busiestWindow(grants: Array<{ at: number; cost: number }>, windowMs: number): number {
  const sorted = [...grants].sort((a, b) => a.at - b.at);
  let best = 0;
  for (let i = 0; i < sorted.length; i++) {
    let sum = 0;
    for (let j = i; j < sorted.length && sorted[j]!.at < sorted[i]!.at + windowMs; j++) sum += sorted[j]!.cost;
    best = Math.max(best, sum);
  }
  return best;
}

test("two replicas sharing an installation never spend more than the window holds", async () => {
  const key = installation++;
  const limits = { capacity: 50, windowMs: 600, backgroundReserve: 10 };
  const [a, b] = [budgetOf(await replica("a"), key, limits), budgetOf(await replica("b"), key, limits)];
  const grants: Array<{ at: number; cost: number }> = [];
  const request = (budget: SharedInstallationBudget) =>
    budget.acquire(WRITE).then((release) => {
      grants.push({ at: Date.now(), cost: WRITE });
      setTimeout(release, 5);
    });
  const started = Date.now();
  await Promise.all(Array.from({ length: 20 }, (_, i) => request(i % 2 === 0 ? a : b)));
  // 100 points at 50 per window: the last ones wait a window for the first to expire.
  expect(Date.now() - started).toBeGreaterThanOrEqual(550);
  expect(busiestWindow(grants, limits.windowMs - 30)).toBeLessThanOrEqual(limits.capacity);
});

test("a pause seen by one replica holds the other's requests", async () => {
  const key = installation++;
  const [a, b] = [budgetOf(await replica("a"), key, {}), budgetOf(await replica("b"), key, {})];
  (await a.acquire(1))();
  a.pause(Date.now() + 700);
  await new Promise((resolve) => setTimeout(resolve, 50)); // the pause reaches Redis
  const asked = Date.now();
  const release = await b.acquire(1);
  release();
  expect(Date.now() - asked).toBeGreaterThanOrEqual(550);
});

test("background requests of every replica wait while a foreground one waits for points", async () => {
  const key = installation++;
  const limits = { capacity: 20, windowMs: 800, backgroundReserve: 0 };
  const [a, b] = [budgetOf(await replica("a"), key, limits), budgetOf(await replica("b"), key, limits)];
  for (let i = 0; i < 4; i++) (await a.acquire(WRITE))(); // the window is spent
  const order: string[] = [];
  const foreground = a.acquire(WRITE).then((release) => (order.push("foreground"), release()));
  await new Promise((resolve) => setTimeout(resolve, 50)); // it has asked, and waits
  const background = b.acquire(1, "background").then((release) => (order.push("background"), release()));
  await Promise.all([foreground, background]);
  expect(order).toEqual(["foreground", "background"]);
});

test("the in-flight slots of a replica that died lapse, and the others get them", async () => {
  const key = installation++;
  const limits = { maxInFlight: 2, backgroundMaxInFlight: 1 };
  const dead = budgetOf(await replica("dead"), key, limits, { lapseMs: 400 });
  await dead.acquire(1);
  await dead.acquire(1); // never released: the replica is gone
  const alive = budgetOf(await replica("alive"), key, limits, { lapseMs: 400 });
  const asked = Date.now();
  (await alive.acquire(1))();
  expect(Date.now() - asked).toBeGreaterThanOrEqual(300);
});

test("with Redis unreachable a replica spends only its share (the budget over the fleet's size), then Redis again", async () => {
  const key = installation++;
  const link = await replica("a");
  const budget = budgetOf(link, key, { capacity: 30, windowMs: 60_000 }, { fleetSize: 3 });
  await redis.kill();
  await waitFor(() => !link.available);
  let granted = 0;
  for (let i = 0; i < 5; i++) void budget.acquire(WRITE).then((release) => (granted++, release()));
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(granted).toBe(2); // 10 points of 30: two writes
  await redis.start();
  await waitFor(() => link.available);
  const release = await budget.acquire(WRITE); // Redis came back empty: the shared window is open again
  release();
});

test("when Redis comes back empty, what each replica spent in the window is charged again: no full window on top of it", async () => {
  const key = installation++;
  const limits = { capacity: 30, windowMs: 60_000, backgroundReserve: 0 };
  const [linkA, linkB] = [await replica("a"), await replica("b")];
  const [a, b] = [budgetOf(linkA, key, limits), budgetOf(linkB, key, limits)];
  (await a.acquire(WRITE))(); // shared, before the outage
  await redis.kill();
  await waitFor(() => !linkA.available && !linkB.available);
  (await b.acquire(WRITE))(); // b's local share, during it
  await redis.start(); // empty
  await waitFor(() => linkA.available && linkB.available);
  // 10 of 30 points are spent at GitHub: 4 writes fit, not 6.
  let granted = 0;
  for (let i = 0; i < 6; i++) void a.acquire(WRITE).then((release) => (granted++, release()));
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(granted).toBe(4);
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
