// A queued `modal` job, delivered as a signed webhook, becomes one JIT runner
// registration at GitHub and one sandbox on Modal.
import { decodeJitConfig } from "@modal-github-runner/simulator/fake-github";
import { eventually, settled, startWorld, type World } from "../support/app-harness.js";
import { linesWith, outcomes } from "../support/outcomes.js";

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
