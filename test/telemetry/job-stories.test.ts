// Every job's story, from the events the App sees, including the cases the status
// page used to get wrong: a job whose webhook was lost and that ran on a runner made
// for another job, that other job served again by the reconciler, a job cancelled
// before any runner took it, a refused job that one of our runners took anyway.
import { JobStories, filterStories, type StoryEvent, type StoryJob } from "../../src/telemetry/job-stories.js";

const T0 = Date.parse("2026-11-30T10:00:00Z");
const at = (s: number) => new Date(T0 + s * 1000).toISOString();
const job = (id: number, extra: Partial<StoryJob> = {}): StoryJob => ({
  id,
  runId: 500,
  name: `job ${id}`,
  repo: "acme/api",
  installationId: 1,
  createdAt: at(0),
  ...extra,
});
const url = (id: number) => `https://github.com/acme/api/actions/runs/500/job/${id}`;
const hook = (action: "queued" | "in_progress" | "completed", id: number, extra: Partial<Extract<StoryEvent, { kind: "webhook" }>> = {}) =>
  ({ kind: "webhook", action, job: job(id), htmlUrl: url(id), ...extra }) as StoryEvent;

function play(events: Array<[seconds: number, event: StoryEvent]>, limits = { maxJobs: 100, maxAgeMs: 86_400_000 }) {
  const stories = new JobStories({ ...limits, namePrefix: "modal" });
  for (const [s, event] of events) stories.record(event, T0 + s * 1000);
  return stories;
}
const story = (stories: JobStories, id: number) => stories.list().find((x) => x.jobId === id);

test("a job served and finished: queue time, run time, runner, profile, cost and its link", () => {
  const stories = play([
    [0, hook("queued", 7)],
    [1, { kind: "dispatch", outcome: "started", job: job(7), profile: "default", runnerName: "modal-7-0" }],
    [5, hook("in_progress", 7, { runnerName: "modal-7-0", startedAt: at(5), profile: "default" })],
    [65, hook("completed", 7, { runnerName: "modal-7-0", startedAt: at(5), completedAt: at(65), conclusion: "success" })],
    [66, { kind: "cost", runnerName: "modal-7-0", installationId: 1, dollars: 0.0042 }],
  ]);
  expect(stories.list()).toEqual([
    expect.objectContaining({
      jobId: 7,
      outcome: "success",
      conclusion: "success",
      via: "webhook",
      queuedAt: at(0),
      startedAt: at(5),
      finishedAt: at(65),
      queueSeconds: 5,
      runSeconds: 60,
      runner: "modal-7-0",
      runnerMadeFor: undefined,
      profile: "default",
      dollars: 0.0042,
      htmlUrl: url(7),
    }),
  ]);
});

test("a lost webhook: job 38 runs on the runner made for 39, which the reconciler serves again; each appears once, with its own sandbox and cost", () => {
  const stories = play([
    [0, hook("queued", 39)],
    [1, { kind: "dispatch", outcome: "started", job: job(39), profile: "default", runnerName: "modal-39-0" }],
    // The runner made for 39 takes the older job 38, whose queued webhook never came.
    [3, hook("in_progress", 38, { runnerName: "modal-39-0", startedAt: at(3), profile: "default" })],
    [20, { kind: "dispatch", outcome: "started", job: job(39), profile: "default", runnerName: "modal-39-1" }],
    [23, hook("in_progress", 39, { runnerName: "modal-39-1", startedAt: at(23), profile: "default" })],
    [30, hook("completed", 38, { runnerName: "modal-39-0", startedAt: at(3), completedAt: at(30), conclusion: "success" })],
    [31, { kind: "cost", runnerName: "modal-39-0", installationId: 1, dollars: 0.001 }],
    [40, hook("completed", 39, { runnerName: "modal-39-1", startedAt: at(23), completedAt: at(40), conclusion: "failure" })],
    [41, { kind: "cost", runnerName: "modal-39-1", installationId: 1, dollars: 0.002 }],
  ]);
  expect(stories.list().map((x) => x.jobId)).toEqual([39, 38]);
  expect(story(stories, 38)).toMatchObject({ outcome: "success", runner: "modal-39-0", runnerMadeFor: 39, dollars: 0.001, runSeconds: 27 });
  expect(story(stories, 39)).toMatchObject({
    outcome: "failure",
    runner: "modal-39-1",
    runnerMadeFor: undefined,
    dollars: 0.002,
    queueSeconds: 23,
  });
  expect(stories.jobRunBy("modal-39-0")).toBe(38);
});

test("a job that waited for Modal keeps why, in one short reason said once", () => {
  const stories = play([
    [0, hook("queued", 6)],
    [
      1,
      {
        kind: "dispatch",
        outcome: "waiting",
        job: job(6),
        reason: "Modal is unavailable: Modal is unavailable (circuit open): Modal UNAVAILABLE: down",
      },
    ],
    [9, { kind: "dispatch", outcome: "started", job: job(6), runnerName: "modal-6-0" }],
  ]);
  expect(story(stories, 6)).toMatchObject({ outcome: "starting", waitedFor: "Modal UNAVAILABLE: down" });
});

test("a job found only by a reconcile pass says so", () => {
  const stories = play([[0, { kind: "dispatch", outcome: "started", job: job(5), profile: "default", runnerName: "modal-5-0" }]]);
  expect(story(stories, 5)).toMatchObject({ via: "reconciler", outcome: "starting", sandbox: "modal-5-0" });
});

test("a job cancelled before any runner took it is cancelled, not started", () => {
  const stories = play([
    [0, hook("queued", 9)],
    [1, { kind: "dispatch", outcome: "started", job: job(9), profile: "default", runnerName: "modal-9-0" }],
    [2, hook("completed", 9, { completedAt: at(2), conclusion: "cancelled" })],
  ]);
  expect(story(stories, 9)).toMatchObject({ outcome: "cancelled", finishedAt: at(2), startedAt: undefined, runSeconds: undefined });
});

test("a refused job that one of our runners took anyway, and that the App stopped, shows as stopped by the App, with why", () => {
  const stories = play([
    [0, hook("queued", 11)],
    [1, { kind: "dispatch", outcome: "refused", job: job(11), reason: "acme/legacy is not listed" }],
    [3, hook("in_progress", 11, { runnerName: "modal-10-0", startedAt: at(3) })],
    [4, { kind: "stopped", job: job(11), runnerName: "modal-10-0", reason: "acme/legacy is not listed" }],
    [6, hook("completed", 11, { runnerName: "modal-10-0", startedAt: at(3), completedAt: at(6), conclusion: "failure" })],
  ]);
  expect(story(stories, 11)).toMatchObject({
    outcome: "stopped",
    conclusion: "failure",
    stoppedBy: expect.stringMatching(/^the App: policy refuses the job \(acme\/legacy is not listed\)/),
    runner: "modal-10-0",
    runnerMadeFor: 10,
    startedAt: at(3),
    finishedAt: at(6),
    runSeconds: 3,
  });
});

test("an event from another installation never writes into a job's story", () => {
  const stories = play([
    [0, hook("queued", 12)],
    [1, { kind: "webhook", action: "completed", job: job(12, { installationId: 2 }), conclusion: "success" }],
    [2, { kind: "cost", runnerName: "modal-12-0", installationId: 2, dollars: 5 }],
  ]);
  expect(story(stories, 12)).toMatchObject({ installationId: 1, outcome: "queued" });
  expect(story(stories, 12)?.dollars).toBeUndefined();
});

test("bounded: at most maxJobs stories, none older than maxAgeMs; the oldest go first", () => {
  const byCount = play(
    [1, 2, 3, 4].map((id) => [id, hook("queued", id, { job: job(id, { createdAt: at(id) }) })]),
    { maxJobs: 3, maxAgeMs: 86_400_000 },
  );
  expect(byCount.list().map((x) => x.jobId)).toEqual([4, 3, 2]);
  const byAge = play(
    [
      [0, hook("queued", 1)],
      [100, hook("queued", 2, { job: job(2, { createdAt: at(100) }) })],
    ],
    { maxJobs: 100, maxAgeMs: 60_000 },
  );
  expect(byAge.list().map((x) => x.jobId)).toEqual([2]);
});

test("queue-time percentiles per profile cover jobs started in the last hour", () => {
  const events: Array<[number, StoryEvent]> = [];
  for (let i = 1; i <= 10; i++) {
    const id = 100 + i;
    events.push([0, hook("queued", id, { job: job(id) })]);
    events.push([i, hook("in_progress", id, { job: job(id), runnerName: `modal-${id}-0`, startedAt: at(i), profile: "default" })]);
  }
  events.push([0, hook("queued", 200, { job: job(200, { createdAt: at(-7200) }) })]);
  events.push([
    0,
    hook("in_progress", 200, { job: job(200, { createdAt: at(-7200) }), runnerName: "modal-200-0", startedAt: at(-3700), profile: "gpu" }),
  ]);
  const stories = play(events);
  expect(stories.queueTimes(T0 + 20_000)).toEqual([{ profile: "default", jobs: 10, p50: 5, p90: 9, p99: 10, max: 10 }]);
});

test.each([
  { filter: { outcome: "success" }, ids: [2] },
  { filter: { repo: "ACME/web" }, ids: [3] },
  { filter: { installation: "octo" }, ids: [3] },
  { filter: { installation: "1" }, ids: [1, 2] },
  { filter: {}, ids: [1, 2, 3] },
])("filter $filter", ({ filter, ids }) => {
  const base = { runId: 1, name: "n", firstSeenAt: at(0) };
  const all = [
    { ...base, jobId: 1, repo: "acme/api", installationId: 1, outcome: "queued" },
    { ...base, jobId: 2, repo: "acme/api", installationId: 1, outcome: "success" },
    { ...base, jobId: 3, repo: "acme/web", installationId: 2, outcome: "failure" },
  ];
  expect(filterStories(all, filter, new Map([[2, "octo"]])).map((x) => x.jobId)).toEqual(ids);
});
