// What a pass costs per installation (issue 15, item 10: 2,000 jobs over 100
// installations). Between full sweeps a pass lists a repository's runs in progress
// only where they can tell it something (run-jobs-memory.ts): a run of it last read
// with queued jobs, or a busy runner of ours whose job no event named. Everywhere else
// the listing of queued runs is the whole read: one GitHub call per active repository
// per pass instead of two. A full sweep reads its installations several at a time,
// not one after the other.
import { eventually, settled } from "../support/app-harness.js";
import { RunJobsMemory, runsInProgressNeeded } from "../../src/reconcile/run-jobs-memory.js";
import { MAX_QUIET_GAP_INTERVALS, quietRepositoryDue } from "../../src/reconcile/quiet-repository.js";
import type { ActiveRun } from "../../src/github/repositories.js";
import type { JobRef } from "../../src/model/job.js";
import { closeChecked, startReconcileWorld, type ReconcileWorld } from "./reconcile-world.js";
import { FastForwardClock } from "../support/fast-forward-clock.js";

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

describe("a recently active repository with nothing else to watch", () => {
  const MIN = 60_000;
  const NOW = 10 * 3_600_000;
  test.each([
    // last event, last read (minutes ago; undefined: never), → read this pass
    ["never read since the App started", 90, undefined, true],
    ["an event since its last read", 1, 2, true],
    ["its last event 3 min ago, read a pass ago", 3, 1, true],
    ["quiet 20 min, read 1 min ago (gap: 5 min)", 20, 1, false],
    ["quiet 20 min, read 5 min ago", 20, 5, true],
    ["quiet 100 min, read 7 min ago (gap: at most 8 intervals)", 100, 7, false],
    ["quiet 100 min, read 8 min ago", 100, 8, true],
  ])("%s: read %s", (_, eventAgo, readAgo, due) => {
    expect(
      quietRepositoryDue({ activeAt: NOW - eventAgo * MIN, readAt: readAgo === undefined ? undefined : NOW - readAgo * MIN }, NOW, MIN),
    ).toBe(due);
  });

  test("whatever its quiet time, it is read at most MAX_QUIET_GAP_INTERVALS passes apart", () => {
    const activeAt = 0;
    let readAt: number | undefined;
    let longest = 0;
    for (let pass = 1; pass <= 120; pass++) {
      const now = pass * MIN;
      if (!quietRepositoryDue({ activeAt, readAt }, now, MIN)) continue;
      if (readAt !== undefined) longest = Math.max(longest, (now - readAt) / MIN);
      readAt = now;
    }
    expect(longest).toBe(MAX_QUIET_GAP_INTERVALS);
  });

  test("with passes on demand only (RECONCILE_INTERVAL=0) every pass reads it", () => {
    expect(quietRepositoryDue({ activeAt: 0, readAt: 1 }, 100 * MIN, 0)).toBe(true);
  });
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

describe("an installation gone quiet", () => {
  let world: ReconcileWorld;
  afterEach(() => closeChecked(world));

  test("its repository is read ever less often over the active window, and every pass again after an event", async () => {
    const clock = new FastForwardClock();
    world = await startReconcileWorld({ env: { RECONCILE_INTERVAL: "60s" }, clock });
    const job = world.queueJob();
    await world.github.deliverWorkflowJob("queued", job);
    await eventually(() => world.github.job(job.id)?.status === "completed", "the job ran");
    await settled(world);
    await world.pass(); // the first pass is a full sweep
    let reads = 0;
    for (let minute = 1; minute <= 60; minute++) {
      await clock.advance(60_000);
      reads += (await world.pass()).checked.repositories;
    }
    // Every pass for its first minutes, then every quarter of its quiet time, at most 8 passes apart.
    expect(reads).toBeGreaterThanOrEqual(60 / 8);
    expect(reads).toBeLessThanOrEqual(20);
    // A new event: the next pass reads it.
    const next = world.queueJob(["self-hosted", "other-label"]);
    await world.github.deliverWorkflowJob("queued", next);
    await clock.advance(60_000);
    expect((await world.pass()).checked.repositories).toBe(1);
  });
});
