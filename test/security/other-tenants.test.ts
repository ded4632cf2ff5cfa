// Other tenants cannot move our runners: a validly signed event of another installation
// naming our runner, a forged completed for a busy runner, and a job policy refuses that one
// of our org-level runners took. One file (one load of the App's modules) for these cases.
import type { FakeJob } from "@modal-github-runner/simulator/github/types";
import { type RunningApp, type World, eventually, settled, startOrgWorld, startWorld } from "../support/app-harness.js";
import { runnerConfigFile } from "../profiles/config-file.js";
import { FAST_RECONCILE, type ReconcileWorld, startReconcileWorld } from "../reconcile/reconcile-world.js";
import { counterValue, registerForeignRunner } from "./foreign-runner.js";
import { DEFAULT_OCTOKIT_TUNING } from "../../src/github/create-octokit-class.js";
import { FastForwardClock } from "../support/fast-forward-clock.js";

// One installation must never touch another's runners, sandboxes or caps (issue 9).
// Runner names are unique only within an org or repository, and job ids are global:
// an admin of org A can register a self-hosted runner named after org B's job
// (`modal-<B's job id>-0`) and run one of A's jobs on it. GitHub then sends A's
// installation in_progress and completed events carrying that name. Nothing of B's
// may change: its idle sandbox keeps running, its registration stays, its slot
// stays taken, and no reconcile pass terminates anything.
describe("cross installation", () => {
  let world: World;
  let app: RunningApp;
  let evil: number;
  let victim: number;
  /** B's first job: a runner was made for it, and its sandbox is idle (the runner never connects here). */
  let victimJob: FakeJob;

  beforeEach(async () => {
    world = await startWorld();
    evil = world.github.addInstallation({ account: "evil-org", accountType: "Organization" }).id;
    victim = world.github.addInstallation({ account: "octo-org", accountType: "Organization" }).id;
    world.github.addRepository({ installationId: evil, owner: "evil-org", name: "tools" });
    world.github.addRepository({ installationId: victim, owner: "octo-org", name: "app" });
    app = await world.startApp({
      ...FAST_RECONCILE,
      RUNNER_CONFIG: runnerConfigFile("caps:\n  perInstallation: 1\nprofiles:\n  default:\n    labels: [modal]\n"),
    });
    victimJob = world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["self-hosted", "modal"] });
    await world.github.deliverWorkflowJob("queued", victimJob);
    await eventually(() => world.modal.running().length === 1, "B's sandbox runs");
    await settled(world);
  });

  afterEach(async () => {
    world.github.assertNoViolations();
    await world.close();
  });

  const victimName = () => `modal-${victimJob.id}-0`;
  const victimRegistration = () =>
    world.github.runners().find((runner) => runner.name === victimName() && runner.scope.kind === "org" && runner.scope.org === "octo-org");

  /** Everything of B's the attack must leave as it was. */
  async function expectVictimUntouched(secondVictimJob: FakeJob): Promise<void> {
    expect(world.modal.running().map((sandbox) => sandbox.name)).toEqual([victimName()]);
    expect(victimRegistration()).toMatchObject({ busy: false });
    // B's one slot is still taken: its second job still waits.
    expect(app.parts.dispatcher.waiting().map((job) => job.id)).toEqual([secondVictimJob.id]);
    expect(world.modal.sandboxes().filter((sandbox) => sandbox.endedBy !== undefined)).toEqual([]);
    expect(world.github.requests.filter((request) => request.method === "DELETE")).toEqual([]);
  }

  async function queueSecondVictimJob(): Promise<FakeJob> {
    const second = world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["self-hosted", "modal"] });
    await world.github.deliverWorkflowJob("queued", second);
    await eventually(() => app.parts.dispatcher.waiting().length === 1, "B's second job waits for B's one slot");
    return second;
  }

  test("org A's runner named after org B's job runs A's job: nothing of B's changes, now or after a reconcile pass", async () => {
    const second = await queueSecondVictimJob();
    // Org A: a job for A's own self-hosted runners, and a runner named like ours.
    const attackerJob = world.github.queueJob({ owner: "evil-org", repo: "tools", labels: ["self-hosted", "attacker"] });
    const runner = await registerForeignRunner(world.github, {
      installationId: evil,
      org: "evil-org",
      name: victimName(),
      labels: ["self-hosted", "attacker"],
    });
    expect(world.github.acquireJob(runner.id)?.id).toBe(attackerJob.id); // GitHub sends A's installation in_progress
    await settled(world);
    world.github.completeJob(attackerJob.id); // and completed
    await settled(world);

    await expectVictimUntouched(second);
    const summary = await app.parts.reconciler.run({ full: true, reason: "test" });
    expect(summary.ok).toBe(true);
    await settled(world);
    await expectVictimUntouched(second);
    // The event named a runner of ours, so it was checked: the sandbox is not A's to affect.
    expect(await counterValue(app.parts.metrics.registry, "modal_runner_assignment_checks_total", { outcome: "stopped" })).toBe(0);
  });

  describe("a validly signed event naming another installation's runner changes nothing", () => {
    test.each([
      ["in org A's repository, from A's installation", "evil-org/tools", () => evil],
      ["in org B's repository, from A's installation", "octo-org/app", () => evil],
      ["in org A's repository, naming B's installation", "evil-org/tools", () => victim],
    ])("%s", async (_case, repository, installationId) => {
      const second = await queueSecondVictimJob();
      const [owner, repo] = repository.split("/") as [string, string];
      // A job for other runners: only the runner name in the events points at B.
      const job = world.github.queueJob({ owner, repo, labels: ["self-hosted", "attacker"] });
      for (const action of ["in_progress", "completed"] as const) {
        const payload = world.github.workflowJobPayload(action, job, installationId());
        Object.assign(payload.workflow_job as Record<string, unknown>, {
          runner_id: 4242,
          runner_name: victimName(),
          runner_group_id: 1,
          runner_group_name: "Default",
          started_at: new Date().toISOString(),
        });
        const answer = await world.github.deliverRaw("workflow_job", JSON.stringify(payload));
        expect(answer.status).toBeLessThan(300);
      }
      await settled(world);
      await expectVictimUntouched(second);
      await app.parts.reconciler.run({ full: true, reason: "test" });
      await settled(world);
      // B's own second job may still wait; nothing of B's was freed, stopped or deleted.
      await expectVictimUntouched(second);
    });
  });
});

// A sandbox is only ever terminated when the App saw its runner idle, or the runner
// is confirmed gone: never because a list call failed (issue 9). Here a runner of
// ours is busy with a long job, another org sends a forged `completed` naming it,
// and the next pass cannot list the org's runners (GitHub answers 502).
describe("busy runner", () => {
  let world: ReconcileWorld;

  afterEach(async () => {
    world.github.assertNoViolations();
    await world.close();
  });

  test("a busy runner survives a pass whose runner list fails, even after a forged completed", async () => {
    world = await startReconcileWorld({ runner: { jobDurationMs: 600_000 } });
    const evil = world.github.addInstallation({ account: "evil-org", accountType: "Organization" }).id;
    world.github.addRepository({ installationId: evil, owner: "evil-org", name: "tools" });
    const job = world.queueJob();
    await world.github.deliverWorkflowJob("queued", job);
    await eventually(() => world.github.job(job.id)?.status === "in_progress", "our runner runs the job");
    await settled(world);
    const name = `modal-${job.id}-0`;

    // Org A: an event for one of its own jobs, validly signed, naming our busy runner.
    const forged = world.github.queueJob({ owner: "evil-org", repo: "tools", labels: ["self-hosted", "attacker"] });
    const payload = world.github.workflowJobPayload("completed", forged);
    Object.assign(payload.workflow_job as Record<string, unknown>, {
      runner_id: 4242,
      runner_name: name,
      runner_group_id: 1,
      runner_group_name: "Default",
      started_at: new Date().toISOString(),
    });
    expect((await world.github.deliverRaw("workflow_job", JSON.stringify(payload))).status).toBeLessThan(300);
    await settled(world);

    // Every read of the org's runners fails for this pass (the first try and each retry).
    world.github.failNext(
      { method: "GET", route: /^\/orgs\/octo-org\/actions\/runners(\?|$)/ },
      { status: 502, body: { message: "Server Error" } },
      DEFAULT_OCTOKIT_TUNING.maxRetries + 1,
    );
    const failed = await world.pass();
    expect(failed).toMatchObject({ failed: 1, repaired: {} });
    expect(world.github.requests.filter((request) => request.status === 502)).toHaveLength(DEFAULT_OCTOKIT_TUNING.maxRetries + 1);
    await settled(world);
    expect(world.modal.running().map((sandbox) => sandbox.name)).toEqual([name]);
    expect(world.github.job(job.id)?.status).toBe("in_progress");
    expect(world.github.runners()).toEqual([expect.objectContaining({ name, busy: true })]);

    // Once the list reads again, the pass sees the runner busy and leaves it alone.
    const summary = await world.pass();
    expect(summary).toMatchObject({ ok: true, repaired: {} });
    expect(world.modal.sandboxes().filter((sandbox) => sandbox.endedBy !== undefined)).toEqual([]);
    expect(world.github.requests.filter((request) => request.method === "DELETE")).toEqual([]);
  });
});

// Policy holds after dispatch (issue 9). An org-level runner can be taken by any job
// of its runner group's repositories whose labels it fits, so a runner started for
// an allowed job can be taken by a job policy refuses. When the in_progress event
// says so, the App stops that sandbox and counts it; runners that took allowed jobs
// are left alone.
describe("policy after dispatch", () => {
  let world: World;

  afterEach(async () => {
    world.github.assertNoViolations();
    await world.close();
  });

  const checks = (app: RunningApp, outcome: string) =>
    counterValue(app.parts.metrics.registry, "modal_runner_assignment_checks_total", { outcome });

  test.each([
    ["on DENIED_REPOSITORIES", { DENIED_REPOSITORIES: "octo-org/secret" }, undefined],
    ["left out by the org's policy file", {}, "repositories: [app]\n"],
  ])(
    "a job of a repository %s takes a runner started for an allowed job: its sandbox is stopped, another runner's allowed job is untouched",
    async (_case, env, orgPolicy) => {
      world = await startOrgWorld();
      const installationId = world.github.installations()[0]!.id;
      world.github.addRepository({ installationId, owner: "octo-org", name: "secret" });
      world.github.addRepository({ installationId, owner: "octo-org", name: ".github" });
      if (orgPolicy) world.github.addFile("octo-org", ".github", ".github/modal-runner.yml", orgPolicy);
      const app = await world.startApp({ RUNNER_SCOPE: "org", ...env });

      // Oldest first: the refused job is the one a fresh runner takes first.
      const denied = world.github.queueJob({
        owner: "octo-org",
        repo: "secret",
        labels: ["self-hosted", "modal"],
        createdAt: new Date(Date.now() - 60_000),
      });
      const allowed = [0, 1].map(() => world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["self-hosted", "modal"] }));
      for (const job of [denied, ...allowed]) await world.github.deliverWorkflowJob("queued", job);
      await eventually(() => world.modal.running().length === 2, "a runner for each allowed job");
      await settled(world);
      expect(
        world.modal
          .sandboxes()
          .map((sandbox) => sandbox.name)
          .sort(),
      ).toEqual(allowed.map((job) => `modal-${job.id}-0`).sort());

      // Both runners connect: the first takes the refused job, the second an allowed one.
      const runnerOf = (jobId: number) => world.github.runners().find((runner) => runner.name === `modal-${jobId}-0`)!;
      for (const job of allowed) world.github.connectRunner(runnerOf(job.id).jitConfig);
      expect(world.github.acquireJob(runnerOf(allowed[0]!.id).id)?.id).toBe(denied.id);
      expect(world.github.acquireJob(runnerOf(allowed[1]!.id).id)?.id).toBe(allowed[0]!.id);
      await settled(world);

      expect(world.modal.sandboxes().find((sandbox) => sandbox.name === `modal-${allowed[0]!.id}-0`)).toMatchObject({
        endedBy: "terminate",
      });
      // The second allowed job, whose runner the first took, is served again at once under its next name.
      expect(
        world.modal
          .running()
          .map((sandbox) => sandbox.name)
          .sort(),
      ).toEqual([`modal-${allowed[1]!.id}-0`, `modal-${allowed[1]!.id}-1`]);
      expect(await checks(app, "stopped")).toBe(1);
      expect(await checks(app, "allowed")).toBe(1);
      expect(await checks(app, "foreign")).toBe(0);
    },
  );

  // Issue 14: the blip. Modal refuses every call but creation for 3 s while our runner
  // takes a denied repository's job. The stop is retried with backoff, never tried once:
  // the sandbox is stopped once Modal answers. The guard's backoff (0.5 s doubling) runs
  // on a clock the test advances in steps of 100 ms.
  test("a refusal holds through a Modal blip: the stop is retried until Modal answers, then the sandbox is stopped", async () => {
    world = await startOrgWorld();
    const installationId = world.github.installations()[0]!.id;
    world.github.addRepository({ installationId, owner: "octo-org", name: "secret" });
    const clock = new FastForwardClock();
    const app = await world.startApp({ RUNNER_SCOPE: "org", DENIED_REPOSITORIES: "octo-org/secret" }, { clock });
    const step = async () => {
      await clock.advance(100);
      await app.parts.idle();
    };

    const allowed = world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["self-hosted", "modal"] });
    await world.github.deliverWorkflowJob("queued", allowed);
    await eventually(() => world.modal.running().length === 1, "a runner for the allowed job");
    await settled(world);
    const runner = world.github.runners().find((candidate) => candidate.name === `modal-${allowed.id}-0`)!;
    world.github.connectRunner(runner.jitConfig);

    const denied = world.github.queueJob({
      owner: "octo-org",
      repo: "secret",
      labels: ["self-hosted", "modal"],
      createdAt: new Date(Date.now() - 60_000),
    });
    world.modal.setOutage("all-but-create");
    const blipStart = clock.now();
    expect(world.github.acquireJob(runner.id)?.id).toBe(denied.id);
    await settled(world);
    while (clock.now() - blipStart < 3000) await step();
    expect(await checks(app, "failed")).toBeGreaterThanOrEqual(2); // the stop failed and was tried again
    expect(world.modal.byName(`modal-${allowed.id}-0`)?.state).toBe("running");
    world.modal.setOutage(false);
    const answered = clock.now();

    // The next retry (backoff 0.5, 1, 2, 4 s…) stops it. (The allowed job, whose runner the
    // refused one took, meanwhile has a runner of its own again: modal-<id>-1.)
    const refusedRunning = () => world.modal.byName(`modal-${allowed.id}-0`) !== undefined;
    while (refusedRunning() && clock.now() - answered < 5000) await step();
    expect(refusedRunning()).toBe(false);
    console.log(`blip: the refused runner's sandbox was stopped ${clock.now() - answered} ms after Modal answered again`);
    expect(world.modal.sandboxes().find((sandbox) => sandbox.name === `modal-${allowed.id}-0`)).toMatchObject({ endedBy: "terminate" });
    await eventually(async () => (await checks(app, "stopped")) === 1, "the stop is counted");
    expect(world.modal.running().map((sandbox) => sandbox.name)).toEqual([`modal-${allowed.id}-1`]);
  });
});
