// The per-installation request budget, driven by a manual clock: what starts when,
// counted in grants, never in wall-clock time.
import {
  GITHUB_SECONDARY_LIMITS,
  InstallationBudget,
  type BudgetLimits,
  type RequestPriority,
} from "../../src/github/installation-budget.js";
import { RequestBudgets } from "../../src/github/request-budgets.js";
import { ManualClock, flush } from "../support/manual-clock.js";

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
