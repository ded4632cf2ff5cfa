// The whole App against the fakes, one replica: serving queued jobs (one runner and one
// sandbox per job, exactly once whatever GitHub repeats), how it takes webhooks, how it
// behaves under faults, and the runner's currency. One file (one load of the App's
// modules) for these cases; each block starts its own worlds. (Several replicas on one
// Redis: fleet.test.ts.)
import http from "node:http";
import { decodeJitConfig } from "@modal-github-runner/simulator/fake-github";
import {
  type World,
  eventually,
  settled,
  startOrgWorld,
  startWorld,
  MODAL_TOKEN_SECRET,
  fetchProtected,
  type RunningApp,
} from "../support/app-harness.js";
import { FastForwardClock } from "../support/fast-forward-clock.js";
import { linesWith, outcomes } from "../support/outcomes.js";
import { Status } from "nice-grpc";
import { attachSimulatedRunners } from "@modal-github-runner/simulator/simulated-runner";
import { ManualClock } from "../support/manual-clock.js";
import { type AddressInfo } from "node:net";
import { sign } from "@modal-github-runner/simulator/github/webhooks";
import { freePort } from "../support/free-port.js";
import { runnerBuildArgs } from "../../src/runner-config/runner-build-args.js";
import { type StatusSnapshot } from "../../src/telemetry/status-snapshot.js";

// Serving queued jobs: a queued modal job becomes one runner registration and one
// sandbox, exactly once whatever GitHub repeats.
describe("serving queued jobs", () => {
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
});

// How the App takes webhooks: answered at once while the work happens after, bad
// deliveries refused with nothing created, and deliveries through a WEBHOOK_PROXY_URL
// channel served like direct ones.
describe("taking webhooks", () => {
  // GitHub gives a delivery 10 s and never retries it: the App answers before it
  // talks to GitHub or Modal, and does the slow work afterwards, a bounded number of
  // jobs at a time.
  describe("ack fast", () => {
    let world: World;

    afterEach(async () => {
      world.github.assertNoViolations();
      await world.close();
    });

    test("the webhook is answered well under a second while sandbox creation takes 15 s", async () => {
      // Modal's 15 s pass on a clock of the fake's own: the create answers only when the test advances it.
      const modalTime = new ManualClock();
      world = await startOrgWorld({ modalLatencyTimers: modalTime });
      await world.startApp();
      world.modal.methodLatencyMs.sandboxCreateV2 = 15_000;
      const job = world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["modal"] });

      const delivery = await world.github.deliverWorkflowJob("queued", job);

      expect(delivery.status).toBe(200);
      expect(delivery.ms).toBeLessThan(1000);
      expect(world.modal.sandboxes()).toHaveLength(0);
      await eventually(() => world.modal.calls.some((call) => call.method === "sandboxCreateV2"), "the create is under way");
      await modalTime.advance(14_000);
      expect(world.modal.sandboxes()).toHaveLength(0);
      await modalTime.advance(1_000);
      await eventually(() => world.modal.running().length === 1, "the slow sandbox runs");
      await settled(world);
      expect(world.github.runners()).toHaveLength(1);
    });

    test("dispatch runs after the answer with bounded concurrency", async () => {
      // Modal's creates take 300 ms of a clock of the fake's own, moved on by the test until every job has its sandbox.
      const modalTime = new ManualClock();
      world = await startOrgWorld({ modalLatencyTimers: modalTime });
      await world.startApp({ DISPATCH_CONCURRENCY: "2" });
      world.modal.methodLatencyMs.sandboxCreateV2 = 300;
      const jobs = Array.from({ length: 6 }, () => world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["modal"] }));

      const deliveries = await Promise.all(jobs.map((job) => world.github.deliverWorkflowJob("queued", job)));

      expect(deliveries.every((delivery) => delivery.status === 200 && delivery.ms < 1000)).toBe(true);
      // Two at a time: each round, two creates are in flight before Modal's 300 ms are skipped.
      for (let running = 0; running < 6; running = world.modal.running().length) {
        const expected = Math.min(2, 6 - running);
        await eventually(() => modalTime.pendingTimers() === expected, `${expected} creates in flight`);
        await modalTime.advance(300);
      }
      expect(world.modal.mostInFlight("sandboxCreateV2")).toBe(2);
    });
  });

  // Bad deliveries get a clear answer or a logged rejection, create nothing, and the
  // App keeps serving.
  describe("bad input", () => {
    let world: World;

    beforeEach(async () => {
      world = await startOrgWorld();
    });

    afterEach(async () => {
      world.github.assertNoViolations();
      await world.close();
    });

    const queueJob = () => world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["modal"] });

    async function expectStillServing() {
      await world.github.deliverWorkflowJob("queued", queueJob());
      await eventually(() => world.modal.running().length === 1, "a later valid job is served");
    }

    test.each([
      ["a wrong signature", "wrong", 400, /signature does not match/],
      ["a missing signature", "missing", 400, /Required headers missing: x-hub-signature-256/],
    ] as const)("%s is refused", async (_name, signature, status, message) => {
      await world.startApp();
      const delivery = await world.github.deliverWorkflowJob("queued", queueJob(), { signature });
      expect(delivery.status).toBe(status);
      expect(delivery.body).toMatch(message);
      await settled(world);
      expect(world.github.requests).toHaveLength(0);
      expect(world.modal.sandboxes()).toHaveLength(0);
      await expectStillServing();
    });

    test("malformed JSON is refused", async () => {
      await world.startApp();
      const delivery = await world.github.deliverRaw("workflow_job", '{"action":"queued","workflow_job":');
      expect(delivery.status).toBe(400);
      expect(world.github.requests).toHaveLength(0);
      await expectStillServing();
    });

    test("a payload without an installation is rejected in the log", async () => {
      const app = await world.startApp();
      const job = queueJob();
      const delivery = await world.github.deliverWorkflowJob("queued", job, { omitInstallation: true });
      expect(delivery.status).toBe(200);
      await settled(world);
      expect(linesWith(app, { deliveryId: delivery.deliveryId, level: 40 })).toEqual([
        expect.objectContaining({ jobId: job.id, reason: "the delivery names no installation" }),
      ]);
      expect(world.github.requests).toHaveLength(0);
      await expectStillServing();
    });

    test("an installation GitHub does not know is rejected in the log", async () => {
      const app = await world.startApp();
      const job = queueJob();
      await world.github.deliverWorkflowJob("queued", job, { installationId: 987654 });
      await eventually(() => outcomes(app, { jobId: job.id, kind: "failed" }).length === 1, "the job is recorded as failed");
      expect(outcomes(app, { jobId: job.id })).toEqual([
        expect.objectContaining({ kind: "failed", reason: expect.stringContaining("does not know this installation") }),
      ]);
      expect(linesWith(app, { jobId: job.id, level: 50 })).toEqual([
        expect.objectContaining({
          installationId: 987654,
          reason: expect.stringContaining("does not know this installation"),
          retryable: false,
        }),
      ]);
      expect(world.github.runners()).toHaveLength(0);
      expect(world.modal.sandboxes()).toHaveLength(0);
      await expectStillServing();
    });

    test("a payload of the wrong shape is rejected in the log", async () => {
      const app = await world.startApp();
      const body = JSON.stringify({ action: "queued", workflow_job: { id: "x" }, installation: { id: 1 } });
      const delivery = await world.github.deliverRaw("workflow_job", body);
      expect(delivery.status).toBe(200);
      expect(linesWith(app, { deliveryId: delivery.deliveryId, level: 40 })).toEqual([
        expect.objectContaining({ reason: expect.stringMatching(/^malformed payload: workflow_job.id/) }),
      ]);
      expect(world.github.requests).toHaveLength(0);
      await expectStillServing();
    });
  });

  // WEBHOOK_PROXY_URL (development): deliveries GitHub makes to a smee.io-style channel
  // reach the App's webhook path and are served like direct ones. The channel here is
  // a small server-sent-events endpoint on loopback that speaks smee's format.
  describe("webhook proxy", () => {
    let world: World;
    let channel: http.Server;
    afterEach(async () => {
      await world.close();
      channel.closeAllConnections();
      await new Promise((resolve) => channel.close(resolve));
    });

    test("a delivery through the proxy channel is verified and served", async () => {
      world = await startOrgWorld();
      const job = world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["modal"] });
      const payload = world.github.workflowJobPayload("queued", job);
      const body = JSON.stringify(payload);
      // smee's event: the delivery's headers as fields, its JSON body under "body".
      const event = {
        "x-github-event": "workflow_job",
        "x-github-delivery": "proxy-delivery-1",
        "x-hub-signature-256": sign(world.github.webhookSecret, body),
        body: payload,
      };
      channel = http.createServer((_req, res) => {
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
        res.write(`event: ready\ndata: {}\n\n`);
        res.write(`data: ${JSON.stringify(event)}\n\n`);
      });
      await new Promise<void>((resolve) => channel.listen(0, "127.0.0.1", resolve));
      world.github.webhookUrl = "http://127.0.0.1:9/unused"; // GitHub delivers only to the channel here

      await world.startApp({ WEBHOOK_PROXY_URL: `http://127.0.0.1:${(channel.address() as AddressInfo).port}/channel` });
      await eventually(() => world.modal.running().length === 1, "the proxied job is served");
      await settled(world);
      expect(world.modal.running()[0]!.name).toBe(`modal-${job.id}-0`);
    });
  });
});

// The App under faults: remote failures retried or logged once, readiness (/health)
// saying why it cannot serve, and no secret in the logs whatever fails.
describe("faults", () => {
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
      world = await startOrgWorld();
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
});

// The runner's currency through the whole App, against the fake GitHub's releases
// endpoint: the status page, /status.json and the metric say whether the image's
// runner is GitHub's latest, behind, or close to GitHub's deadline; runners skip
// their self-update only when the image is current; RUNNER_VERSION=latest builds the
// image for the newest release, checked against its published SHA-256.
describe("the runner's currency", () => {
  const DAY = 86_400_000;
  const PINNED = runnerBuildArgs().RUNNER_VERSION!;
  const [major, minor, patch] = PINNED.split(".").map(Number) as [number, number, number];
  const NEXT = `${major}.${minor + 1}.${patch}`;

  let world: World;

  beforeEach(async () => {
    world = await startOrgWorld();
  });

  afterEach(async () => {
    try {
      world.github.assertNoViolations();
    } finally {
      await world.close();
    }
  });

  const publish = (version: string, daysAgo: number, sha256?: string) =>
    world.github.addRelease({
      owner: "actions",
      repo: "runner",
      tagName: `v${version}`,
      publishedAt: new Date(Date.now() - daysAgo * DAY),
      sha256,
    });

  /** /status.json once the App has read the latest release (the first look starts the read). */
  async function runnerVersion(app: RunningApp): Promise<NonNullable<StatusSnapshot["runnerVersion"]>> {
    let snapshot: StatusSnapshot | undefined;
    await eventually(
      async () => {
        snapshot = JSON.parse(await fetchProtected(app, "/status.json")) as StatusSnapshot;
        return snapshot.runnerVersion?.state !== "unknown";
      },
      "the App knows the latest runner release",
      20_000,
    );
    return snapshot!.runnerVersion!;
  }

  const metric = async (app: RunningApp) => /^modal_runner_version_behind\{([^}]*)\} (\d+)$/m.exec(await fetchProtected(app))?.slice(1);

  async function sandboxFor(labels: string[]) {
    const job = world.github.queueJob({ owner: "octo-org", repo: "app", labels });
    await world.github.deliverWorkflowJob("queued", job);
    await settled(world);
    return world.modal.sandboxes().find((sandbox) => sandbox.name === `modal-${job.id}-0`)!;
  }

  test("the image holds GitHub's latest runner: current everywhere, and runners start with updates disabled", async () => {
    publish(PINNED, 40);
    const app = await world.startApp();
    expect(await runnerVersion(app)).toMatchObject({ state: "current", image: PINNED, latest: PINNED });
    expect(await metric(app)).toEqual([`image="${PINNED}",latest="${PINNED}"`, "0"]);
    expect((await fetchProtected(app, "/status")).includes("data-runner-version")).toBe(false);
    expect((await sandboxFor(["self-hosted", "modal"])).env.MODAL_RUNNER_DISABLE_UPDATE).toBe("1");
  });

  test("a newer release: a warning on the page and in the metric, and runners keep updating themselves", async () => {
    publish(PINNED, 40);
    publish(NEXT, 3);
    const app = await world.startApp();
    expect(await runnerVersion(app)).toMatchObject({ state: "behind", image: PINNED, latest: NEXT });
    expect(await metric(app)).toEqual([`image="${PINNED}",latest="${NEXT}"`, "1"]);
    expect(await fetchProtected(app, "/status")).toContain('data-runner-version="behind"');
    expect((await sandboxFor(["self-hosted", "modal"])).env.MODAL_RUNNER_DISABLE_UPDATE).toBeUndefined();
  });

  test("close to GitHub's 30 days: an error", async () => {
    publish(NEXT, 25);
    const app = await world.startApp();
    expect(await runnerVersion(app)).toMatchObject({ state: "deadline", latest: NEXT });
    expect((await metric(app))?.[1]).toBe("2");
    expect(await fetchProtected(app, "/status")).toContain('data-runner-version="deadline"');
  });

  test("the release is read once, however often the page and the metrics are looked at", async () => {
    publish(PINNED, 40);
    const app = await world.startApp();
    await runnerVersion(app);
    for (let i = 0; i < 5; i++) {
      await fetchProtected(app, "/status.json");
      await fetchProtected(app);
    }
    expect(world.github.requests.filter((request) => request.route === "/repos/{owner}/{repo}/releases/latest")).toHaveLength(1);
  });

  test("RUNNER_VERSION=latest: the image gets the newest runner from its tarball, checked against its SHA-256; runners need no update", async () => {
    const sha256 = "c0ffee".padEnd(64, "0");
    publish(NEXT, 2, sha256);
    const app = await world.startApp({ RUNNER_VERSION: "latest" });
    const sandbox = await sandboxFor(["self-hosted", "modal"]);
    const image = world.modal.images().find((entry) => entry.imageId === sandbox.imageId)!;
    const install = image.dockerfileCommands.at(-1)!;
    expect(install).toContain(`https://github.com/actions/runner/releases/download/v${NEXT}/actions-runner-linux-x64-${NEXT}.tar.gz`);
    expect(install).toContain(`echo '${sha256}  /tmp/actions-runner.tar.gz' | sha256sum -c -`);
    expect(sandbox.env.MODAL_RUNNER_DISABLE_UPDATE).toBe("1");
    expect(await runnerVersion(app)).toMatchObject({ state: "current", image: NEXT, latest: NEXT });
  });
});
