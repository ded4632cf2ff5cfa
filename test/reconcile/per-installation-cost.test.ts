// What a pass costs per installation (issue 15, item 10: 2,000 jobs over 100
// installations). Between full sweeps a pass lists a repository's runs in progress
// only where they can tell it something (run-jobs-memory.ts): a run of it last read
// with queued jobs, or a busy runner of ours whose job no event named. Everywhere else
// the listing of queued runs is the whole read: one GitHub call per active repository
// per pass instead of two. A full sweep reads its installations several at a time,
// not one after the other.
import { eventually, settled } from "../support/app-harness.js";
import { RunJobsMemory, runsInProgressNeeded } from "../../src/reconcile/run-jobs-memory.js";
import type { ActiveRun } from "../../src/github/repositories.js";
import type { JobRef } from "../../src/model/job.js";
import { closeChecked, startReconcileWorld, type ReconcileWorld } from "./reconcile-world.js";

test.each([
  // full, a remembered run holds queued jobs, a busy runner of unknown job → listed
  [true, false, false, true],
  [false, true, false, true],
  [false, false, true, true],
  [false, true, true, true],
  [false, false, false, false],
])("full %s, holds queued %s, unknown busy runner %s: runs in progress listed: %s", (full, holdsQueued, unknownBusyRunner, listed) => {
  expect(runsInProgressNeeded({ full, holdsQueued, unknownBusyRunner })).toBe(listed);
});

describe("RunJobsMemory.holdsQueued", () => {
  const NOW = Date.parse("2026-11-30T12:00:00Z");
  const run = (id: number, status: ActiveRun["status"], updatedAt: string): ActiveRun => ({
    id,
    status,
    createdAt: new Date(NOW - 60_000).toISOString(),
    updatedAt,
  });
  const job = (id: number, runId: number) => ({ id, runId }) as JobRef;
  const pass = (memory: RunJobsMemory, runs: ActiveRun[], queued: Record<number, JobRef[]>, complete: boolean) =>
    memory.queuedJobs(runs, async (runId) => queued[runId] ?? [], {
      refresh: false,
      youngerThan: NOW - 2_000,
      repository: { key: "o/r", complete },
    });

  test("a repository holds queued jobs while a run's last read found some, not after", async () => {
    const memory = new RunJobsMemory();
    expect(memory.holdsQueued("o/r")).toBe(false);
    await pass(memory, [run(1, "queued", "a")], { 1: [job(10, 1)] }, false);
    expect(memory.holdsQueued("o/r")).toBe(true);
    expect(memory.holdsQueued("o/other")).toBe(false);
    // It started; read again (it changed and last held queued jobs): none queued now.
    await pass(memory, [run(1, "in_progress", "b")], { 1: [] }, true);
    expect(memory.holdsQueued("o/r")).toBe(false);
  });

  test("a remembered run missing from a complete listing is no longer active: forgotten", async () => {
    const memory = new RunJobsMemory();
    await pass(memory, [run(1, "queued", "a")], { 1: [job(10, 1)] }, false);
    // Only the queued runs listed: the run may be in progress, so it is still remembered.
    await pass(memory, [], {}, false);
    expect(memory.holdsQueued("o/r")).toBe(true);
    await pass(memory, [], {}, true);
    expect(memory.holdsQueued("o/r")).toBe(false);
  });
});

describe("a pass between full sweeps", () => {
  let world: ReconcileWorld;
  afterEach(() => closeChecked(world));

  const runListings = (from: number) =>
    world.github.requests
      .slice(from)
      .filter((request) => request.route === "/repos/{owner}/{repo}/actions/runs")
      .map((request) => request.query.status)
      .sort();

  test("an active repository whose runs hold no queued job: only its queued runs are listed", async () => {
    world = await startReconcileWorld({ env: { UNSERVED_JOB_GRACE: "1h" } });
    await world.pass(); // the first pass is a full sweep
    const job = world.queueJob();
    await world.github.deliverWorkflowJob("queued", job);
    await eventually(() => world.github.job(job.id)?.status === "completed", "the job ran");
    await settled(world);

    const before = world.github.requests.length;
    const summary = await world.pass();
    expect(summary.full).toBe(false);
    expect(summary.checked.repositories).toBe(1); // the repository is active: swept
    expect(runListings(before)).toEqual(["queued"]);
  });

  test("a busy runner whose in_progress event was lost: the runs in progress are listed and its job found", async () => {
    world = await startReconcileWorld({ env: { UNSERVED_JOB_GRACE: "1h" }, runner: { bootDelayMs: 60_000 } });
    await world.pass(); // the first pass is a full sweep
    const job = world.queueJob();
    await world.github.deliverWorkflowJob("queued", job);
    await eventually(() => world.modal.running().length === 1, "a sandbox for the job");
    await settled(world);
    world.github.webhookUrl = undefined; // the in_progress event is lost
    const runner = world.github.runners().find((candidate) => candidate.name === `modal-${job.id}-0`)!;
    world.github.connectRunner(runner.jitConfig);
    expect(world.github.acquireJob(runner.id)?.id).toBe(job.id);

    const before = world.github.requests.length;
    await world.pass();
    expect(runListings(before)).toEqual(["in_progress", "queued"]);
    expect(world.app.parts.reconciler.assignments.get(runner.name)?.job?.id).toBe(job.id);
  });
});

describe("a full sweep over many installations", () => {
  let world: ReconcileWorld;
  afterEach(() => closeChecked(world));

  test("lists the installations' repositories several at a time, and sweeps every one", async () => {
    world = await startReconcileWorld();
    for (let i = 0; i < 11; i++) {
      const installation = world.github.addInstallation({ account: `org-${i}`, accountType: "Organization" });
      world.github.addRepository({ installationId: installation.id, owner: `org-${i}`, name: "app" });
    }
    // Once the App's installations are listed, GitHub answers nothing until the test says:
    // one installation at a time, a single token request would be all that reaches it.
    let answer!: () => void;
    const answered = new Promise<void>((resolve) => (answer = resolve));
    world.github.beforeNext({ method: "GET", route: "/app/installations" }, () => world.github.holdRequests(answered));
    const before = world.github.requests.length;
    const pass = world.pass();
    const perInstallation = () =>
      new Set(
        world.github.requests
          .slice(before)
          .filter((request) => request.installationId !== undefined)
          .map((request) => request.installationId),
      ).size;
    await eventually(() => perInstallation() >= 8, "eight installations read at once");
    answer();
    const summary = await pass;
    expect(summary.full).toBe(true);
    expect(summary.checked.repositories).toBe(12);
  });
});
