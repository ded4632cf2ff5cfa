// Fair share: when an installation's GitHub budget can pay for one more job, and
// the round-robin order of the installations' queues.
import { budgetRoom, FairQueue, JOB_POINTS } from "../../src/dispatch/fair-share.js";
import type { BudgetHeadroom } from "../../src/github/installation-budget.js";

const NOW = 1_000_000;
const full: BudgetHeadroom = {
  points: 900,
  capacity: 900,
  inFlight: 0,
  queued: { foreground: 0, background: 0 },
  pausedUntil: undefined,
  refillsAt: undefined,
};

test.each<[string, Partial<BudgetHeadroom>, number, ReturnType<typeof budgetRoom>]>([
  ["a full budget", {}, 0, { room: true }],
  ["room for one more job beside those registering", { points: 7 * JOB_POINTS }, 6, { room: true }],
  [
    "the points left are promised to the jobs registering",
    { points: 6 * JOB_POINTS, refillsAt: NOW + 500 },
    6,
    { room: false, reason: expect.stringContaining("spent"), wakeAt: NOW + 500 },
  ],
  [
    "requests already wait for points",
    { points: 900, queued: { foreground: 1, background: 0 } },
    0,
    { room: false, reason: expect.stringContaining("queued"), wakeAt: undefined },
  ],
  [
    "GitHub asked the installation to wait",
    { pausedUntil: NOW + 30_000 },
    0,
    { room: false, reason: expect.stringContaining("rate limit"), wakeAt: NOW + 30_000 },
  ],
  ["a pause that is over", { pausedUntil: NOW - 1 }, 0, { room: true }],
])("%s", (_case, headroom, registering, expected) => {
  expect(budgetRoom({ ...full, ...headroom }, registering, NOW)).toEqual(expected);
});

test("each key's queue keeps its order; turns go to the key served longest ago", () => {
  const queue = new FairQueue<{ id: number }>((a, b) => a.id - b.id);
  for (const [key, id] of [
    [1, 30],
    [1, 10],
    [2, 5],
    [3, 7],
    [1, 20],
  ] as const)
    queue.add(key, { id });
  expect([...queue.items(1)].map((item) => item.id)).toEqual([10, 20, 30]);
  expect(queue.turns()).toEqual([1, 2, 3]);
  queue.served(1);
  expect(queue.turns()).toEqual([2, 3, 1]);
  expect(queue.remove(1, { id: 10 })).toBe(true);
  queue.remove(1, { id: 20 });
  queue.remove(1, { id: 30 });
  queue.add(1, { id: 20 });
  queue.add(1, { id: 30 });
  expect(queue.turns()).toEqual([2, 3, 1]); // its queue emptied and filled again: its turn still comes after the others'
  expect(queue.remove(1, { id: 10 })).toBe(false);
  expect(queue.remove(2, { id: 5 })).toBe(true);
  expect(queue.turns()).toEqual([3, 1]); // an empty queue leaves the rotation
  queue.add(2, { id: 6 });
  expect(queue.turns()).toEqual([3, 2, 1]); // never served first, in the order they came
  expect([...queue.all()].map((item) => item.id)).toEqual([7, 20, 30, 6]);
  expect(queue.size).toBe(4);
});

test("a long queue stays cheap to take from the front", () => {
  const queue = new FairQueue<{ id: number }>((a, b) => a.id - b.id);
  const count = 200_000;
  for (let id = 0; id < count; id++) queue.add(1, { id });
  const started = performance.now();
  for (let id = 0; id < count; id++) queue.remove(1, { id });
  expect(queue.size).toBe(0);
  expect(performance.now() - started).toBeLessThan(2000);
});
