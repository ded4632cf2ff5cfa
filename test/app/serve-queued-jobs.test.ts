// Serving queued jobs: a queued modal job becomes one runner registration and one
// sandbox, exactly once whatever GitHub repeats. One file (one load of the App's modules)
// for these cases.
import { decodeJitConfig } from "@modal-github-runner/simulator/fake-github";
import { type World, eventually, settled, startOrgWorld, startWorld } from "../support/app-harness.js";
import { FastForwardClock } from "../support/fast-forward-clock.js";
import { linesWith, outcomes } from "../support/outcomes.js";
import { Status } from "nice-grpc";
import { attachSimulatedRunners } from "@modal-github-runner/simulator/simulated-runner";

// A queued `modal` job, delivered as a signed webhook, becomes one JIT runner
// registration at GitHub and one sandbox on Modal.
describe("serve queued jobs", () => {
  let world: World;

  beforeEach(async () => {
    world = await startWorld();
  });

  afterEach(async () => {
    world.github.assertNoViolations();
    await world.close();
  });

  function orgWithRepo(visibility: "private" | "public" | "internal" = "private") {
    const installation = world.github.addInstallation({ account: "octo-org", accountType: "Organization" });
    world.github.addRepository({
      installationId: installation.id,
      owner: "octo-org",
      name: "app",
      visibility,
      private: visibility !== "public",
    });
    return installation;
  }

  function jitRequests() {
    return world.github.requests.filter((request) => request.route.endsWith("/generate-jitconfig") && request.status === 201);
  }

  describe("serving queued jobs", () => {
    test("a queued job with the runner label gets an org-level JIT runner in its own sandbox", async () => {
      const installation = orgWithRepo();
      const app = await world.startApp();
      const job = world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["self-hosted", "linux", "modal"] });

      const delivery = await world.github.deliverWorkflowJob("queued", job);
      expect(delivery.status).toBe(200);
      await eventually(() => world.modal.running().length === 1, "a sandbox runs");
      await settled(world);

      const [request] = jitRequests();
      expect(request).toMatchObject({
        method: "POST",
        route: "/orgs/{org}/actions/runners/generate-jitconfig",
        installationId: installation.id,
        body: { name: `modal-${job.id}-0`, labels: ["self-hosted", "linux", "modal"], runner_group_id: 1, work_folder: "_work" },
      });
      const [runner] = world.github.runners();
      const [sandbox] = world.modal.running();
      expect(sandbox).toMatchObject({
        name: `modal-${job.id}-0`,
        appName: "github-actions-runners",
        imageTag: expect.stringMatching(/^ghcr\.io\/actions\/actions-runner:\d+\.\d+\.\d+@sha256:[0-9a-f]{64}$/),
        cpu: 2,
        memoryMiB: 4096,
        timeoutSecs: 6 * 3600,
        tags: {
          managed_by: "modal-github-runner",
          job_id: String(job.id),
          run_id: String(job.runId),
          runner_id: String(runner!.id),
          runner_name: `modal-${job.id}-0`,
          repository: "octo-org/app",
          installation_id: String(installation.id),
          scope: "org:octo-org",
        },
      });
      // The JIT config reaches the sandbox only through its environment…
      expect(decodeJitConfig(sandbox!.env.ACTIONS_RUNNER_INPUT_JITCONFIG!)?.runnerId).toBe(runner!.id);
      expect(sandbox!.command.join(" ")).not.toContain(sandbox!.env.ACTIONS_RUNNER_INPUT_JITCONFIG!);
      // …and the runner is started from it, as the `runner` user when the image has one.
      // The JIT config only in the environment: run.sh's only possible argument is --disableupdate.
      expect(sandbox!.command[2]).toMatch(/exec \$as_runner \.\/run\.sh "\$\{update_flag\[@\]\}"\s*$/);
      expect(sandbox!.command.join(" ")).toMatch(/runuser -u runner/);
      expect(outcomes(app, { jobId: job.id })).toEqual([expect.objectContaining({ kind: "started", repo: "octo-org/app" })]);
    });

    test("a user's repository gets a repository-level runner", async () => {
      const installation = world.github.addInstallation({ account: "octocat", accountType: "User" });
      world.github.addRepository({ installationId: installation.id, owner: "octocat", name: "hello" });
      await world.startApp();
      const job = world.github.queueJob({ owner: "octocat", repo: "hello", labels: ["modal"] });

      await world.github.deliverWorkflowJob("queued", job);
      await eventually(() => world.modal.running().length === 1, "a sandbox runs");

      expect(jitRequests()[0]).toMatchObject({
        route: "/repos/{owner}/{repo}/actions/runners/generate-jitconfig",
        body: { labels: ["modal"], runner_group_id: 1 },
      });
      expect(world.modal.running()[0]!.tags.scope).toBe("repo:octocat/hello");
    });

    test("RUNNER_SCOPE=repo registers org repositories' runners per repository", async () => {
      orgWithRepo();
      await world.startApp({ RUNNER_SCOPE: "repo" });
      const job = world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["modal"] });
      await world.github.deliverWorkflowJob("queued", job);
      await eventually(() => world.modal.running().length === 1, "a sandbox runs");
      expect(jitRequests()[0]!.route).toBe("/repos/{owner}/{repo}/actions/runners/generate-jitconfig");
    });

    test("scope auto falls back to repository level when the org permission was not granted", async () => {
      const installation = world.github.addInstallation({
        account: "octo-org",
        accountType: "Organization",
        permissions: { actions: "read", administration: "write", metadata: "read" },
      });
      world.github.addRepository({ installationId: installation.id, owner: "octo-org", name: "app" });
      const app = await world.startApp();
      const first = world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["modal"] });
      await world.github.deliverWorkflowJob("queued", first);
      await eventually(() => world.modal.running().length === 1, "a sandbox runs");
      const second = world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["modal"] });
      await world.github.deliverWorkflowJob("queued", second);
      await eventually(() => world.modal.running().length === 2, "two sandboxes run");

      const attempts = world.github.requests
        .filter((request) => request.route.endsWith("/generate-jitconfig"))
        .map((request) => `${request.status} ${request.route}`);
      // The org level is tried once; afterwards the installation goes straight to repository level.
      expect(attempts).toEqual([
        "403 /orgs/{org}/actions/runners/generate-jitconfig",
        "201 /repos/{owner}/{repo}/actions/runners/generate-jitconfig",
        "201 /repos/{owner}/{repo}/actions/runners/generate-jitconfig",
      ]);
      // Said once, as a warning naming the installation and org.
      expect(linesWith(app, { level: 40, installationId: installation.id, org: "octo-org" })).toHaveLength(1);
    });

    test("a runner group given by name is looked up once per org", async () => {
      orgWithRepo();
      world.github.addRunnerGroup("octo-org", { id: 7, name: "modal-runners" });
      await world.startApp({ RUNNER_GROUP: "modal-runners" });
      for (let i = 0; i < 2; i++) {
        await world.github.deliverWorkflowJob("queued", world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["modal"] }));
      }
      await eventually(() => world.modal.running().length === 2, "two sandboxes run");
      expect(jitRequests().map((request) => (request.body as { runner_group_id: number }).runner_group_id)).toEqual([7, 7]);
      expect(world.github.requests.filter((request) => request.route === "/orgs/{org}/actions/runner-groups")).toHaveLength(1);
    });

    test("a runner group that does not exist fails the job with a reason that names the setting", async () => {
      orgWithRepo();
      const app = await world.startApp({ RUNNER_GROUP: "no-such-group" });
      const job = world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["modal"] });
      await world.github.deliverWorkflowJob("queued", job);
      await settled(world);
      expect(world.modal.sandboxes()).toHaveLength(0);
      expect(outcomes(app, { jobId: job.id })).toEqual([
        expect.objectContaining({ kind: "failed", repo: "octo-org/app", reason: expect.stringContaining("RUNNER_GROUP") }),
      ]);
    });

    test("the Modal app and the runner image are resolved once, not per job", async () => {
      orgWithRepo();
      await world.startApp();
      for (let i = 0; i < 3; i++) {
        await world.github.deliverWorkflowJob("queued", world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["modal"] }));
      }
      await eventually(() => world.modal.running().length === 3, "three sandboxes run");
      const calls = world.modal.calls.map((call) => call.method);
      expect(calls.filter((method) => method === "appGetOrCreate")).toHaveLength(1);
      expect(calls.filter((method) => method === "imageGetOrCreate")).toHaveLength(1);
      expect(calls.filter((method) => method === "sandboxCreateV2")).toHaveLength(3);
      expect(new Set(world.modal.running().map((sandbox) => sandbox.imageId)).size).toBe(1);
    });
  });

  describe("jobs the App leaves alone", () => {
    test.each([
      ["a job without the runner label", ["ubuntu-latest"]],
      ["a self-hosted job for other runners", ["self-hosted", "k8s"]],
    ])("%s is ignored with a debug line", async (_name, labels) => {
      orgWithRepo();
      const app = await world.startApp();
      const job = world.github.queueJob({ owner: "octo-org", repo: "app", labels });
      expect((await world.github.deliverWorkflowJob("queued", job)).status).toBe(200);
      await settled(world);
      expect(world.github.runners()).toHaveLength(0);
      expect(world.modal.sandboxes()).toHaveLength(0);
      expect(linesWith(app, { jobId: job.id, component: "webhooks" })).toEqual([
        expect.objectContaining({ level: 20, reason: expect.stringContaining('do not include "modal"') }),
      ]);
      expect(outcomes(app, { jobId: job.id })).toEqual([]);
    });

    test.each(["in_progress", "completed", "waiting"] as const)("a %s delivery starts nothing", async (action) => {
      orgWithRepo();
      await world.startApp();
      const job = world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["modal"] });
      expect((await world.github.deliverWorkflowJob(action, job)).status).toBe(200);
      await settled(world);
      expect(world.github.runners()).toHaveLength(0);
      expect(world.modal.sandboxes()).toHaveLength(0);
    });

    test("a public repository is refused unless ALLOW_PUBLIC_REPOS is on", async () => {
      orgWithRepo("public");
      const app = await world.startApp();
      const job = world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["modal"] });
      await world.github.deliverWorkflowJob("queued", job);
      await settled(world);
      expect(world.modal.sandboxes()).toHaveLength(0);
      expect(outcomes(app, { jobId: job.id })).toEqual([
        expect.objectContaining({ kind: "refused", reason: expect.stringContaining("public") }),
      ]);

      await app.stop();
      world.github.webhookUrl = (await world.startApp({ ALLOW_PUBLIC_REPOS: "true" })).webhookUrl;
      await world.github.deliverWorkflowJob("queued", job);
      await eventually(() => world.modal.running().length === 1, "a sandbox runs");
    });

    test("denied repositories are refused", async () => {
      orgWithRepo();
      const app = await world.startApp({ DENIED_REPOSITORIES: "octo-org/app" });
      const job = world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["modal"] });
      await world.github.deliverWorkflowJob("queued", job);
      await settled(world);
      expect(world.modal.sandboxes()).toHaveLength(0);
      expect(outcomes(app, { jobId: job.id })).toEqual([
        expect.objectContaining({ kind: "refused", reason: expect.stringMatching(/DENIED_REPOSITORIES/) }),
      ]);
    });
  });
});

// One queued job, one runner, one sandbox: across redeliveries, concurrent
// duplicates, two replicas, lost answers and leftovers of failed attempts.
describe("exactly once", () => {
  let world: World;

  beforeEach(async () => {
    world = await startOrgWorld();
  });

  afterEach(async () => {
    world.github.assertNoViolations();
    await world.close();
  });

  const queueJob = () => world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["self-hosted", "modal"] });
  const registrations = () =>
    world.github.requests.filter((request) => request.route.endsWith("/generate-jitconfig") && request.status === 201);

  test("a redelivered webhook (same delivery id) is acknowledged and ignored: no second runner or sandbox", async () => {
    await world.startApp();
    const job = queueJob();
    const first = await world.github.deliverWorkflowJob("queued", job);
    await eventually(() => world.modal.running().length === 1, "a sandbox runs");
    await settled(world);

    const replay = await world.github.deliverWorkflowJob("queued", job, { deliveryId: first.deliveryId });
    await settled(world);

    expect(replay.status).toBe(200);
    expect(registrations()).toHaveLength(1);
    expect(world.modal.sandboxes()).toHaveLength(1);
    // The delivery-id window drops the replay before the dispatcher sees it.
    expect(outcomes(world.apps[0]!, { jobId: job.id }).map((outcome) => outcome.kind)).toEqual(["started"]);
  });

  test("the same job delivered again under a new delivery id still creates no second runner or sandbox", async () => {
    await world.startApp();
    const job = queueJob();
    await world.github.deliverWorkflowJob("queued", job);
    await eventually(() => world.modal.running().length === 1, "a sandbox runs");
    await settled(world);

    const before = world.github.requests.length;
    await world.github.deliverWorkflowJob("queued", job);
    await settled(world);

    expect(registrations()).toHaveLength(1);
    expect(world.modal.sandboxes()).toHaveLength(1);
    expect(outcomes(world.apps[0]!, { jobId: job.id }).map((outcome) => outcome.kind)).toEqual(["started", "already-served"]);
    // Its runner was started here: no second registration is even tried (a 409 to examine), nor the job looked up.
    expect(world.github.requests.slice(before)).toEqual([]);
  });

  test("a late redelivery after the job ran and its runner left starts nothing", async () => {
    await world.startApp();
    const runners = attachSimulatedRunners(world.modal, world.github, { bootDelayMs: 10, jobDurationMs: 10 });
    const job = queueJob();
    const first = await world.github.deliverWorkflowJob("queued", job);
    await eventually(
      () => world.github.jobs()[0]!.status === "completed" && world.modal.running().length === 0,
      "the job ran and its sandbox ended",
    );
    await settled(world);
    expect(world.github.runners()).toHaveLength(0); // the ephemeral runner deregistered: its name is free again

    await world.github.deliverWorkflowJob("queued", job, { deliveryId: first.deliveryId });
    await settled(world);

    expect(registrations()).toHaveLength(1);
    expect(world.modal.sandboxes()).toHaveLength(1);
    runners.stop();
  });

  const jobLookUps = () => world.github.requests.filter((request) => request.route === "/repos/{owner}/{repo}/actions/jobs/{job_id}");

  test("a fresh queued webhook registers the job's runner without asking GitHub again whether it is queued", async () => {
    await world.startApp();
    const job = queueJob();
    await world.github.deliverWorkflowJob("queued", job);
    await eventually(() => world.modal.running().length === 1, "a sandbox runs");
    await settled(world);

    expect(jobLookUps()).toHaveLength(0);
    expect(registrations().map((request) => (request.body as { name: string }).name)).toEqual([`modal-${job.id}-0`]);
  });

  test("a queued webhook that comes late (the job is no longer young) is checked first: a job cancelled meanwhile gets no runner", async () => {
    await world.startApp();
    // Older than GitHub's 10 s delivery timeout: what a redelivery of a failed delivery looks like.
    const job = world.github.queueJob({
      owner: "octo-org",
      repo: "app",
      labels: ["self-hosted", "modal"],
      createdAt: new Date(Date.now() - 30_000),
    });
    world.github.cancelJob(job.id);
    await settled(world);

    await world.github.deliverWorkflowJob("queued", job);
    await settled(world);

    expect(jobLookUps().map((request) => request.status)).toEqual([200]);
    expect(registrations()).toHaveLength(0);
    expect(world.modal.sandboxes()).toHaveLength(0);
    expect(outcomes(world.apps[0]!, { jobId: job.id }).map((outcome) => outcome.kind)).toEqual(["not-queued"]);
  });

  test("concurrent duplicate deliveries yield one runner and one sandbox", async () => {
    await world.startApp();
    world.modal.methodLatencyMs.sandboxCreateV2 = 200;
    const job = queueJob();

    const deliveries = await Promise.all(Array.from({ length: 5 }, () => world.github.deliverWorkflowJob("queued", job)));
    expect(deliveries.map((delivery) => delivery.status)).toEqual([200, 200, 200, 200, 200]);
    await eventually(() => world.modal.running().length === 1, "a sandbox runs");
    await settled(world);

    expect(registrations()).toHaveLength(1);
    expect(world.modal.sandboxes()).toHaveLength(1);
  });

  test("two replicas receiving the same job yield one runner and one sandbox", async () => {
    const clock = new FastForwardClock(); // both replicas' time: the grace is skipped, not waited for
    const a = await world.startApp({ REGISTRATION_GRACE: "1s" }, { clock });
    const b = await world.startApp({ REGISTRATION_GRACE: "1s" }, { clock });
    world.modal.methodLatencyMs.sandboxCreateV2 = 300;
    const job = queueJob();

    world.github.webhookUrl = a.webhookUrl;
    const toA = world.github.deliverWorkflowJob("queued", job);
    world.github.webhookUrl = b.webhookUrl;
    const toB = world.github.deliverWorkflowJob("queued", job);
    expect((await Promise.all([toA, toB])).map((delivery) => delivery.status)).toEqual([200, 200]);

    // The replica that lost the race to GitHub sees the name taken and, once its
    // grace period is over, the winner's sandbox running.
    await settled(world); // the winner's sandbox runs; the loser waits out the grace
    await clock.advance(1_000);
    const last = () => [a, b].map((app) => outcomes(app, { jobId: job.id }).at(-1)?.kind).sort();
    await eventually(() => last().join() === "already-served,started", "one replica starts the runner, the other stands down", 5000);
    await settled(world);
    expect(registrations()).toHaveLength(1);
    expect(world.modal.sandboxes()).toHaveLength(1);
    expect(world.github.runners()).toHaveLength(1);
  });

  test("a registration left by an attempt that failed to create its sandbox is replaced", async () => {
    const clock = new FastForwardClock(); // the grace is skipped, not waited for
    await world.startApp({ REGISTRATION_GRACE: "300ms" }, { clock });
    const job = queueJob();
    // The first attempt registers the runner, Modal refuses the sandbox, and the
    // clean-up of the registration fails too: a leftover, as after a crash.
    world.modal.failNext("sandboxCreateV2", Status.FAILED_PRECONDITION);
    world.github.failNext({ method: "DELETE", route: "/orgs/{org}/actions/runners/{runner_id}" }, { status: 500 }, 4);
    await world.github.deliverWorkflowJob("queued", job);
    await settled(world);
    expect(world.github.runners()).toHaveLength(1);
    expect(world.modal.sandboxes()).toHaveLength(0);

    await world.github.deliverWorkflowJob("queued", job);
    await settled(world); // the name is taken by a registration without a sandbox: the attempt waits out the grace
    await clock.advance(300);
    await eventually(() => world.modal.running().length === 1, "a sandbox runs");
    await settled(world);

    const [runner] = world.github.runners();
    expect(world.github.runners()).toHaveLength(1);
    expect(world.modal.running()[0]!.tags.runner_id).toBe(String(runner!.id));
    expect(registrations()).toHaveLength(2);
    // The leftover was deleted before the name was registered again.
    expect(world.github.requests.filter((request) => request.method === "DELETE").map((request) => request.status)).toEqual([
      500, 500, 500, 500, 204,
    ]);
  });

  test("a sandbox created although Modal's answer was lost is recognised as ours", async () => {
    await world.startApp();
    world.modal.failNextAfterEffect("sandboxCreateV2", Status.UNAVAILABLE);
    const job = queueJob();

    await world.github.deliverWorkflowJob("queued", job);
    await eventually(() => outcomes(world.apps[0]!, { jobId: job.id, kind: "started" }).length === 1, "the runner is reported started");
    await settled(world);

    expect(world.modal.sandboxes()).toHaveLength(1);
    expect(world.github.runners()).toHaveLength(1);
    expect(world.modal.running()[0]!.tags.runner_id).toBe(String(world.github.runners()[0]!.id));
  });

  test("a sandbox left from an earlier, deleted registration of the name is replaced", async () => {
    await world.startApp();
    const job = queueJob();
    const modal = world.modal.client();
    const app = await modal.apps.fromName("github-actions-runners", { createIfMissing: true });
    const stale = await modal.sandboxes.create(app, modal.images.fromRegistry("busybox"), {
      name: `modal-${job.id}-0`,
      tags: { runner_id: "999" },
    });

    await world.github.deliverWorkflowJob("queued", job);
    await eventually(() => outcomes(world.apps[0]!, { jobId: job.id, kind: "started" }).length === 1, "the runner is reported started");

    expect(world.modal.sandbox(stale.sandboxId)).toMatchObject({ state: "finished", endedBy: "terminate" });
    expect(world.modal.running()).toEqual([
      expect.objectContaining({
        name: `modal-${job.id}-0`,
        tags: expect.objectContaining({ runner_id: String(world.github.runners()[0]!.id) }),
      }),
    ]);
  });
});
