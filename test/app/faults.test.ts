// Remote failures: GitHub's 5xx, 429 and rate limits are retried by Octokit;
// Modal's transient errors by the fleet; what still fails is logged once, with
// the repository, the job and the reason, and leaves nothing behind.
import { Status } from "nice-grpc";
import { eventually, settled, startOrgWorld, type World } from "../support/app-harness.js";
import { linesWith, outcomes } from "../support/outcomes.js";

let world: World;

beforeEach(async () => {
  world = await startOrgWorld();
});

afterEach(async () => {
  world.github.assertNoViolations();
  await world.close();
});

const queueJob = () => world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["modal"] });
const JIT_ROUTE = "/orgs/{org}/actions/runners/generate-jitconfig";

describe("GitHub faults are retried", () => {
  test.each([
    ["a 502", { status: 502, body: { message: "Bad Gateway" } }],
    ["a 503", { status: 503, body: { message: "Service Unavailable" } }],
    ["a 429", { status: 429, headers: { "retry-after": "1" }, body: { message: "Too Many Requests" } }],
    [
      "a secondary rate limit",
      {
        status: 403,
        headers: { "retry-after": "1" },
        body: { message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again." },
      },
    ],
    [
      "the primary rate limit",
      {
        status: 403,
        headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(Math.floor(Date.now() / 1000)) },
        body: { message: "API rate limit exceeded for installation." },
      },
    ],
  ])("%s from generate-jitconfig", async (_name, response) => {
    const app = await world.startApp();
    world.github.failNext({ method: "POST", route: JIT_ROUTE }, response, 2);
    const job = queueJob();
    await world.github.deliverWorkflowJob("queued", job);
    await eventually(() => world.modal.running().length === 1, "a sandbox runs");
    await settled(world);
    const statuses = world.github.requests.filter((request) => request.route === JIT_ROUTE).map((request) => request.status);
    expect(statuses).toEqual([response.status, response.status, 201]);
    expect(world.github.runners()).toHaveLength(1);
    expect(outcomes(app, { jobId: job.id }).map((outcome) => outcome.kind)).toEqual(["started"]);
  });

  test("a 500 while reading the job", async () => {
    await world.startApp();
    const route = "/repos/{owner}/{repo}/actions/jobs/{job_id}";
    world.github.failNext({ method: "GET", route }, { status: 500 }, 1);
    // A job older than a fresh webhook's (a late delivery) is looked up before its runner is registered.
    const job = world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["modal"], createdAt: new Date(Date.now() - 30_000) });
    await world.github.deliverWorkflowJob("queued", job);
    await eventually(() => world.modal.running().length === 1, "a sandbox runs");
    expect(world.github.requests.filter((request) => request.route === route).map((request) => request.status)).toEqual([500, 200]);
  });

  test("a 409 is never retried blindly", async () => {
    await world.startApp();
    world.github.failNext({ method: "POST", route: JIT_ROUTE }, { status: 409, body: { message: "Already exists" } }, 1);
    await world.github.deliverWorkflowJob("queued", queueJob());
    await eventually(() => world.modal.running().length === 1, "a sandbox runs");
    // 409 → look the name up (nothing there) → register again.
    const calls = world.github.requests
      .filter((request) => request.route.includes("/actions/runners"))
      .map((request) => `${request.status} ${request.method} ${request.route}`);
    expect(calls).toEqual([`409 POST ${JIT_ROUTE}`, "200 GET /orgs/{org}/actions/runners", `201 POST ${JIT_ROUTE}`]);
  });
});

describe("Modal faults are retried", () => {
  test.each([Status.UNAVAILABLE, Status.DEADLINE_EXCEEDED])("%s while creating the sandbox", async (code) => {
    await world.startApp();
    world.modal.failNext("sandboxCreateV2", code, 2);
    await world.github.deliverWorkflowJob("queued", queueJob());
    await eventually(() => world.modal.running().length === 1, "a sandbox runs");
    expect(world.modal.calls.filter((call) => call.method === "sandboxCreateV2")).toHaveLength(3);
    expect(world.github.runners()).toHaveLength(1);
  });

  test("UNAVAILABLE while resolving the app and image", async () => {
    await world.startApp();
    world.modal.failNext("appGetOrCreate", Status.UNAVAILABLE, 1);
    world.modal.failNext("imageGetOrCreate", Status.DEADLINE_EXCEEDED, 1);
    await world.github.deliverWorkflowJob("queued", queueJob());
    await eventually(() => world.modal.running().length === 1, "a sandbox runs");
  });
});

describe("a job that still fails", () => {
  test("is logged once with its repository, job and reason, and leaves no registration behind", async () => {
    const app = await world.startApp();
    await settled(world);
    world.modal.failNext("sandboxCreateV2", Status.INVALID_ARGUMENT, 1, "bad sandbox parameters");
    const job = queueJob();
    const delivery = await world.github.deliverWorkflowJob("queued", job);
    expect(delivery.status).toBe(200);
    await eventually(() => app.parts.dispatcher.unserved().length === 1, "the failure is recorded");
    await settled(world);

    expect(outcomes(app, { jobId: job.id })).toEqual([
      expect.objectContaining({ kind: "failed", repo: "octo-org/app", reason: expect.stringContaining("INVALID_ARGUMENT") }),
    ]);
    expect(linesWith(app, { jobId: job.id, level: 50 })).toEqual([
      expect.objectContaining({ repo: "octo-org/app", reason: expect.stringContaining("INVALID_ARGUMENT"), retryable: false }),
    ]);
    expect(world.github.runners()).toHaveLength(0);
    expect(world.modal.sandboxes()).toHaveLength(0);
    expect(app.parts.dispatcher.unserved().map((entry) => entry.job.id)).toEqual([job.id]);

    // The process stays up and serves the job when it is delivered again.
    await world.github.deliverWorkflowJob("queued", job);
    await eventually(() => world.modal.running().length === 1, "a sandbox runs");
    await settled(world);
    expect(app.parts.dispatcher.unserved()).toEqual([]);
  });

  test("persistent GitHub errors are logged once", async () => {
    const app = await world.startApp();
    world.github.failNext({ method: "POST", route: JIT_ROUTE }, { status: 500, body: { message: "boom" } }, 10);
    const job = queueJob();
    await world.github.deliverWorkflowJob("queued", job);
    await eventually(() => outcomes(app, { jobId: job.id, kind: "failed" }).length === 1, "the failure is recorded");
    await settled(world);
    expect(linesWith(app, { jobId: job.id, level: 50 })).toEqual([
      expect.objectContaining({ repo: "octo-org/app", reason: expect.stringContaining("GitHub answered 500") }),
    ]);
    expect(world.github.requests.filter((request) => request.route === JIT_ROUTE)).toHaveLength(4); // the first try and three retries
    expect(world.modal.sandboxes()).toHaveLength(0);
  });
});
