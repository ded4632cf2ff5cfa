// Each installation's GitHub request budget: one replica's, on a manual clock, and the
// fleet's shared on a real redis-server. One file (one load of the modules) for these cases.
import {
  type BudgetLimits,
  GITHUB_SECONDARY_LIMITS,
  InstallationBudget,
  type RequestPriority,
} from "../../src/github/installation-budget.js";
import { RequestBudgets } from "../../src/github/request-budgets.js";
import { ManualClock, flush } from "../support/manual-clock.js";
import { pino } from "pino";
import { SharedInstallationBudget } from "../../src/github/shared-installation-budget.js";
import { systemClock } from "../../src/lib/clock.js";
import { RedisLink } from "../../src/replicas/redis-link.js";
import { type RedisServer, startRedisServer } from "../support/redis-server.js";

// The per-installation request budget, driven by a manual clock: what starts when,
// counted in grants, never in wall-clock time.
describe("installation budget", () => {
  const WRITE = 5;
  const READ = 1;

  function setup(limits: Partial<BudgetLimits> = {}) {
    const clock = new ManualClock();
    const budget = new InstallationBudget({ ...GITHUB_SECONDARY_LIMITS, ...limits }, clock);
    const started: string[] = [];
    const releases: Array<() => void> = [];
    const request = (name: string, cost: number, priority: RequestPriority = "foreground") =>
      void budget.acquire(cost, priority).then((release) => {
        started.push(name);
        releases.push(release);
      });
    const releaseAll = () => releases.splice(0).forEach((release) => release());
    return { clock, budget, started, request, releaseAll };
  }

  test("a burst of 180 writes starts at once; the 181st waits for the first spend to leave the window", async () => {
    const { clock, started, request, releaseAll } = setup();
    for (let i = 0; i < 200; i++) request(`w${i}`, WRITE);
    await flush();
    expect(started).toHaveLength(100); // GitHub's 100 concurrent
    releaseAll();
    await flush();
    expect(started).toHaveLength(180); // 900 points
    releaseAll();
    await clock.advance(59_999);
    expect(started).toHaveLength(180);
    await clock.advance(1);
    expect(started).toHaveLength(200);
  });

  test("steady demand after the burst goes at the pace points come back: 3 writes a second", async () => {
    const { clock, started, request, releaseAll } = setup();
    // 180 writes spread over the first minute, one every third of a second
    for (let i = 0; i < 180; i++) {
      request(`a${i}`, WRITE);
      await flush();
      releaseAll();
      await clock.advance(333);
    }
    expect(started).toHaveLength(180);
    for (let i = 0; i < 30; i++) request(`b${i}`, WRITE);
    await flush();
    releaseAll();
    const counts: number[] = [];
    for (let s = 0; s < 5; s++) {
      await clock.advance(1000);
      releaseAll();
      counts.push(started.length - 180);
    }
    // every second of the window's tail frees three writes; nothing comes in lumps
    expect(counts.map((c, i) => c - (counts[i - 1] ?? 0)).every((n) => n >= 2 && n <= 4)).toBe(true);
  });

  test("foreground requests always start before background ones that waited longer", async () => {
    const { clock, started, request, releaseAll } = setup({ capacity: 20, windowMs: 1000, backgroundReserve: 5 });
    for (let i = 0; i < 20; i++) request(`w${i}`, WRITE); // 4 go, 16 wait
    for (let i = 0; i < 5; i++) request(`r${i}`, READ, "background");
    await flush();
    releaseAll();
    for (let t = 0; t < 6; t++) {
      await clock.advance(1000);
      releaseAll();
    }
    const firstRead = started.findIndex((n) => n.startsWith("r"));
    expect(started.slice(0, firstRead)).toEqual(Array.from({ length: 20 }, (_, i) => `w${i}`));
    expect(started.filter((n) => n.startsWith("r"))).toHaveLength(5);
  });

  test("background requests never spend the reserve left for dispatch", async () => {
    const { budget, started, request, releaseAll } = setup({ backgroundReserve: 300 });
    for (let i = 0; i < 1000; i++) request(`r${i}`, READ, "background");
    for (let k = 0; k < 20; k++) {
      await flush();
      releaseAll();
    }
    expect(started).toHaveLength(600);
    expect(budget.headroom().points).toBe(300);
    // a burst of 60 writes still starts at once
    for (let i = 0; i < 60; i++) request(`w${i}`, WRITE);
    await flush();
    expect(started.filter((n) => n.startsWith("w"))).toHaveLength(60);
  });

  test("background requests use at most their share of the concurrency", async () => {
    const { started, request } = setup({ backgroundMaxInFlight: 50 });
    for (let i = 0; i < 80; i++) request(`r${i}`, READ, "background");
    await flush();
    expect(started).toHaveLength(50);
    for (let i = 0; i < 60; i++) request(`w${i}`, WRITE);
    await flush();
    expect(started.filter((n) => n.startsWith("w"))).toHaveLength(50);
  });

  test("a pause (retry-after, x-ratelimit-reset) holds every request until it ends", async () => {
    const { clock, budget, started, request } = setup();
    budget.pause(clock.now() + 5000);
    request("w", WRITE);
    request("r", READ, "background");
    await clock.advance(4999);
    expect(started).toEqual([]);
    expect(budget.headroom().pausedUntil).toBe(clock.now() + 1);
    budget.pause(clock.now() - 1000); // an earlier end never shortens a pause
    await clock.advance(1);
    expect(started).toEqual(["w", "r"]);
    expect(budget.headroom().pausedUntil).toBeUndefined();
  });

  test("headroom shows points, requests in flight and queued, per installation", async () => {
    const clock = new ManualClock();
    const budgets = new RequestBudgets({ ...GITHUB_SECONDARY_LIMITS, capacity: 10 }, clock);
    const release = await budgets.of(7).acquire(WRITE);
    void budgets.of(7).acquire(WRITE, "foreground");
    void budgets.of(7).acquire(WRITE, "background");
    await flush();
    expect(budgets.headroom(7)).toEqual({
      points: 0,
      capacity: 10,
      inFlight: 2,
      queued: { foreground: 0, background: 1 },
      pausedUntil: undefined,
      refillsAt: undefined,
    });
    expect(budgets.headroom(8)).toMatchObject({ points: 10, inFlight: 0 });
    expect(budgets.all().map((h) => h.key)).toEqual([7]);
    release();
    // The dispatcher wakes when spent points come back: one window after the answer.
    expect(budgets.headroom(7).refillsAt).toBe(clock.now() + GITHUB_SECONDARY_LIMITS.windowMs);
  });
});

// The fleet's budget on a real redis-server: two replicas (two connections, two
// SharedInstallationBudgets for one installation) together keep GitHub's window, see
// each other's pauses, get back the slots of a replica that died, and fall back to a
// conservative local share when Redis goes away. Time is real (Redis's own clock decides
// the window) but the windows, pauses and lapses are a few hundred milliseconds.
describe("shared installation budget", () => {
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
    const limits = { capacity: 50, windowMs: 300, backgroundReserve: 10 };
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
    expect(Date.now() - started).toBeGreaterThanOrEqual(limits.windowMs - 30);
    expect(busiestWindow(grants, limits.windowMs - 30)).toBeLessThanOrEqual(limits.capacity);
  });

  test("a pause seen by one replica holds the other's requests", async () => {
    const key = installation++;
    const [a, b] = [budgetOf(await replica("a"), key, {}), budgetOf(await replica("b"), key, {})];
    (await a.acquire(1))();
    const pausedAt = Date.now();
    a.pause(pausedAt + 350);
    await new Promise((resolve) => setTimeout(resolve, 50)); // the pause reaches Redis
    const release = await b.acquire(1);
    release();
    // Redis starts the pause when it hears of it (after pausedAt): b's grant comes at its end.
    expect(Date.now() - pausedAt).toBeGreaterThanOrEqual(350 - 5);
  });

  test("background requests of every replica wait while a foreground one waits for points", async () => {
    const key = installation++;
    const limits = { capacity: 20, windowMs: 400, backgroundReserve: 0 };
    const [a, b] = [budgetOf(await replica("a"), key, limits), budgetOf(await replica("b"), key, limits)];
    for (let i = 0; i < 4; i++) (await a.acquire(WRITE))(); // the window is spent
    const order: string[] = [];
    const foreground = a.acquire(WRITE).then((release) => (order.push("foreground"), release()));
    await new Promise((resolve) => setTimeout(resolve, 50)); // it has asked, and waits
    const background = b.acquire(1, "background").then((release) => (order.push("background"), release()));
    await foreground;
    // b was told to wait out the flag's life (2 s: nothing announces that the foreground
    // got its points); a second request of b asks Redis again at once, and the flag is gone.
    const nudge = b.acquire(1, "background").then((release) => release());
    await Promise.all([background, nudge]);
    expect(order).toEqual(["foreground", "background"]);
  });

  test("the in-flight slots of a replica that died lapse, and the others get them", async () => {
    const key = installation++;
    const limits = { maxInFlight: 2, backgroundMaxInFlight: 1 };
    const lapseMs = 200;
    const [deadLink, aliveLink] = [await replica("dead"), await replica("alive")];
    const dead = budgetOf(deadLink, key, limits, { lapseMs });
    const asked = Date.now();
    await dead.acquire(1);
    await dead.acquire(1); // never released: the replica is gone
    const alive = budgetOf(aliveLink, key, limits, { lapseMs });
    (await alive.acquire(1))();
    // Measured from before the dead replica's first grant (Redis stamps its lapse later).
    expect(Date.now() - asked).toBeGreaterThanOrEqual(lapseMs - 5);
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
    await waitFor(() => granted >= 4);
    // A fifth would come as soon as the fourth (one more ask of Redis): give it the time to.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(granted).toBe(4);
  });

  async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error("condition not met in time");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
});
