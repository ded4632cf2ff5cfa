// The App under faults: remote failures retried or logged once, readiness (/health)
// saying why it cannot serve, and no secret in the logs whatever fails. One file (one
// load of the App's modules) for these cases.
import { Status } from "nice-grpc";
import { MODAL_TOKEN_SECRET, type World, eventually, settled, startOrgWorld, startWorld } from "../support/app-harness.js";
import { linesWith, outcomes } from "../support/outcomes.js";
import { freePort } from "../support/free-port.js";
import { attachSimulatedRunners } from "@modal-github-runner/simulator/simulated-runner";

// Remote failures: GitHub's 5xx, 429 and rate limits are retried by Octokit;
// Modal's transient errors by the fleet; what still fails is logged once, with
// the repository, the job and the reason, and leaves nothing behind.
describe("faults", () => {
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
});

// /ping is liveness (the process answers); /health is readiness: it says when the
// App cannot serve jobs (no reconcile pass has succeeded yet, GitHub or Modal
// unreachable, the last reconcile pass blind) and why, in plain words.
describe("health", () => {
  let world: World;
  beforeEach(async () => {
    world = await startOrgWorld();
  });
  afterEach(async () => {
    await world.close();
  });

  const health = async (url: string) => {
    const response = await fetch(`${url}/health`);
    return { status: response.status, body: (await response.json()) as { ready: boolean; problems: string[] } };
  };

  test("ready while Modal answers; 503 with the reason while it is down; ready again after", async () => {
    const app = await world.startApp();
    await app.parts.fleet.prepare(app.settings.runner.config.profiles);
    await settled(world);
    // Not ready before the first reconcile pass has seen GitHub and Modal.
    expect(await health(app.url)).toEqual({
      status: 503,
      body: expect.objectContaining({ problems: ["no reconcile pass has succeeded yet"] }),
    });
    await app.parts.reconciler.run({ reason: "test" });
    expect(await health(app.url)).toEqual({ status: 200, body: expect.objectContaining({ ready: true, problems: [] }) });
    expect((await fetch(`${app.url}/ping`)).status).toBe(200);

    world.modal.setOutage(true);
    await world.github.deliverWorkflowJob("queued", world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["modal"] }));
    await eventually(() => app.parts.modalUnavailable() !== undefined, "the breaker opens");
    const down = await health(app.url);
    expect(down.status).toBe(503);
    expect(down.body.problems).toEqual([expect.stringMatching(/^Modal is unreachable since .* \(next try .*\): Modal UNAVAILABLE/)]);
    // One reason, said once, in plain words.
    expect(down.body.problems[0]).not.toMatch(/circuit|breaker|Modal is unavailable: Modal is unavailable/);
    const pass = await app.parts.reconciler.run({ reason: "test" });
    expect(pass).toMatchObject({ ok: false, problem: expect.stringMatching(/^could not observe Modal/) });
    expect((await health(app.url)).body.problems).toEqual([
      expect.stringMatching(/^Modal is unreachable/),
      expect.stringMatching(/^the last reconcile pass \(.*\) failed: could not observe Modal/),
    ]);
    expect((await fetch(`${app.url}/ping`)).status).toBe(200); // alive all along: no restart would help

    world.modal.setOutage(false);
    await eventually(() => app.parts.modalUnavailable() === undefined, "the breaker closes");
    await app.parts.reconciler.run({ reason: "test" });
    expect((await health(app.url)).status).toBe(200);
  });

  test("GitHub unreachable (GHE_HOST at a closed port): 503 naming GitHub after one reconcile pass", async () => {
    const closed = await freePort();
    const app = await world.startApp({ GHE_HOST: `127.0.0.1:${closed}` });
    await app.parts.fleet.prepare(app.settings.runner.config.profiles);
    await app.parts.reconciler.run({ reason: "test" });
    const down = await health(app.url);
    expect(down.status).toBe(503);
    expect(down.body.problems).toEqual(
      expect.arrayContaining([expect.stringMatching(/^GitHub is unreachable since .*: could not reach GitHub .*ECONNREFUSED/)]),
    );
    const status = (await (
      await fetch(`${app.url}/status.json`, { headers: { authorization: `Bearer ${app.settings.observe.statusToken}` } })
    ).json()) as {
      github: { reachable: boolean; reason?: string };
    };
    expect(status.github).toMatchObject({ reachable: false, reason: expect.stringContaining("ECONNREFUSED") });
  });
});

// Everything the App prints, at the most verbose level, through success, faults and
// bad input, contains no private key, webhook secret, installation token, JIT config
// or Modal token.
describe("no secrets in logs", () => {
  let world: World;

  afterEach(async () => {
    await world.close();
  });

  test("no secret appears in the log output", async () => {
    world = await startWorld();
    const installation = world.github.addInstallation({ account: "octo-org", accountType: "Organization" });
    world.github.addRepository({ installationId: installation.id, owner: "octo-org", name: "app" });
    const app = await world.startApp({ LOG_LEVEL: "trace" });
    const runners = attachSimulatedRunners(world.modal, world.github, { bootDelayMs: 5, jobDurationMs: 5 });
    const queueJob = () => world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["modal"] });

    await world.github.deliverWorkflowJob("queued", queueJob());
    await world.github.deliverWorkflowJob("queued", queueJob(), { signature: "wrong" });
    world.modal.failNext("sandboxCreateV2", Status.UNAVAILABLE, 1);
    await world.github.deliverWorkflowJob("queued", queueJob());
    world.modal.failNext("sandboxCreateV2", Status.PERMISSION_DENIED, 1);
    await world.github.deliverWorkflowJob("queued", queueJob());
    world.github.failNext({ method: "GET", route: "/repos/{owner}/{repo}/actions/jobs/{job_id}" }, { status: 500 }, 5);
    // A late delivery (the job is not young): the App looks the job up first, and meets the 500s.
    const late = world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["modal"], createdAt: new Date(Date.now() - 30_000) });
    await world.github.deliverWorkflowJob("queued", late);
    await eventually(
      () => world.github.jobs().filter((job) => job.status === "completed").length >= 2,
      "at least two jobs ran (which ones depends on where the injected faults land)",
      25_000,
    );
    await settled(world);
    runners.stop();

    const jitConfigs = world.modal.sandboxes().map((sandbox) => sandbox.env.ACTIONS_RUNNER_INPUT_JITCONFIG!);
    const tokens = world.github.issuedTokens();
    expect(jitConfigs.length).toBeGreaterThanOrEqual(2);
    expect(tokens.length).toBeGreaterThanOrEqual(1);
    const keyBody = world.github.privateKey.split("\n").filter((line) => line.length > 40);
    const secrets = [...jitConfigs, ...tokens, ...keyBody, world.github.webhookSecret, MODAL_TOKEN_SECRET];

    const output = app.logs.text;
    expect(output.length).toBeGreaterThan(5000); // trace level really printed a lot
    // Probot's own debug lines of each GitHub request were printed too.
    expect(app.logs.lines.filter((line) => line.component === "github" && line.level <= 20).length).toBeGreaterThan(5);
    for (const secret of secrets) expect(output).not.toContain(secret);
  });
});
