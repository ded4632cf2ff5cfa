// Which runs a reconcile pass reads the jobs of: what changed and may hold an
// unserved job, everything on a full sweep.
import type { JobRef } from "../../src/model/job.js";
import type { ActiveRun } from "../../src/github/repositories.js";
import { RunJobsMemory } from "../../src/reconcile/run-jobs-memory.js";

const NOW = Date.parse("2026-11-28T12:00:00Z");
const old = new Date(NOW - 60_000).toISOString();
const young = new Date(NOW - 1_000).toISOString();
const run = (id: number, status: ActiveRun["status"], updatedAt: string, createdAt = old): ActiveRun => ({
  id,
  status,
  createdAt,
  updatedAt,
});
const job = (id: number, runId: number) => ({ id, runId }) as JobRef;

async function pass(memory: RunJobsMemory, runs: ActiveRun[], queuedByRun: Record<number, JobRef[]>, refresh = false) {
  const read: number[] = [];
  const { jobs } = await memory.queuedJobs(runs, async (runId) => (read.push(runId), queuedByRun[runId] ?? []), {
    refresh,
    youngerThan: NOW - 2_000,
  });
  return { read: read.sort(), jobs: jobs.map((entry) => entry.id).sort() };
}

test("a queued run is read once, and again only when it changes", async () => {
  const memory = new RunJobsMemory();
  expect(await pass(memory, [run(1, "queued", "a")], { 1: [job(10, 1)] })).toEqual({ read: [1], jobs: [10] });
  expect(await pass(memory, [run(1, "queued", "a")], { 1: [job(10, 1)] })).toEqual({ read: [], jobs: [10] });
  expect(await pass(memory, [run(1, "queued", "b")], { 1: [job(10, 1), job(11, 1)] })).toEqual({ read: [1], jobs: [10, 11] });
});

test("a run younger than the grace is not read: none of its jobs may be served yet", async () => {
  expect(await pass(new RunJobsMemory(), [run(1, "queued", "a", young)], { 1: [job(10, 1)] })).toEqual({ read: [], jobs: [] });
});

test("a run in progress is read when it changed and last held queued jobs, or on a full sweep", async () => {
  const memory = new RunJobsMemory();
  // Never read while queued: its jobs started as the webhooks said.
  expect(await pass(memory, [run(1, "in_progress", "a")], { 1: [job(10, 1)] })).toEqual({ read: [], jobs: [] });
  expect(await pass(memory, [run(1, "in_progress", "a")], { 1: [job(10, 1)] }, true)).toEqual({ read: [1], jobs: [10] });
  expect(await pass(memory, [run(1, "in_progress", "b")], { 1: [] })).toEqual({ read: [1], jobs: [] });
  // Its last read found no queued job: later changes are left to webhooks and full sweeps.
  expect(await pass(memory, [run(1, "in_progress", "c")], { 1: [job(12, 1)] })).toEqual({ read: [], jobs: [] });
});
