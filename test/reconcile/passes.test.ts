// What each reconcile pass reads and checks: its GitHub bill between full sweeps,
// installations that come and go, and the jobs our busy runners took (policy per pass).
// One file (one load of the App's modules) for these cases.
import { type World, eventually, settled, startWorld } from "../support/app-harness.js";
import { FAST_RECONCILE, type ReconcileWorld, closeChecked, startReconcileWorld } from "./reconcile-world.js";
import { FastForwardClock } from "../support/fast-forward-clock.js";

// The reconciler's API bill: between full sweeps it grows with the sandboxes and
// the repositories that are active, not with every repository the App can see;
// repeated reads are conditional and mostly answered 304.
describe("api cost", () => {
  let world: World;

  afterEach(async () => {
    await world.close();
  });

  /** N idle sandboxes (runners that never connect) for N queued jobs in one repository, R repositories in all. */
  async function fleetOf(sandboxes: number, repositories: number) {
    world = await startWorld();
    const installation = world.github.addInstallation({ account: "octo-org", accountType: "Organization" });
    for (let i = 0; i < repositories; i++)
      world.github.addRepository({ installationId: installation.id, owner: "octo-org", name: `repo-${i}` });
    const app = await world.startApp({ ...FAST_RECONCILE, UNSERVED_JOB_GRACE: "1h" });
    for (let i = 0; i < sandboxes; i++) {
      await world.github.deliverWorkflowJob("queued", world.github.queueJob({ owner: "octo-org", repo: "repo-0", labels: ["modal"] }));
    }
    await settled(world);
    expect(world.modal.running()).toHaveLength(sandboxes);
    return app;
  }

  async function costOfPasses(app: Awaited<ReturnType<typeof fleetOf>>) {
    const full = await app.parts.reconciler.run({ full: true, reason: "test" });
    const requestsBefore = world.github.requests.length;
    const incremental = await app.parts.reconciler.run({ reason: "test" });
    await app.parts.reconciler.idle(); // the redelivery round runs beside the pass
    const notModified = world.github.requests.slice(requestsBefore).filter((request) => request.status === 304).length;
    expect(full.repaired).toEqual({});
    expect(incremental.repaired).toEqual({});
    return { full: full.apiCalls, incremental: incremental.apiCalls, notModified };
  }

  test("a pass costs the same with 5 or 40 repositories between full sweeps, and a full sweep grows with them", async () => {
    const few = await costOfPasses(await fleetOf(3, 5));
    await world.close();
    const many = await costOfPasses(await fleetOf(3, 40));

    expect(many.incremental).toEqual(few.incremental);
    expect(many.full.github).toBeGreaterThan(few.full.github + 35 * 2 - 1); // two run listings per extra repository
    // The incremental pass: one page of the Modal list and the empty page that ends it; at GitHub
    // the App's installations (sandboxes exist: are their installations still there?), one
    // runner listing (the org scope), one listing of the App's failed deliveries (none: so no
    // listing of successes) and, for the one active repository, two run listings; no run
    // changed since the full sweep, so no job listing.
    expect(few.incremental).toEqual({ modal: 2, github: 1 + 1 + 1 + 2 });
    // Everything it read was unchanged since the full sweep: every read was answered 304.
    expect(few.notModified).toBe(few.incremental.github);
  });

  test("a pass costs one Modal call per 100 sandboxes (and one for the empty last page)", async () => {
    const small = await costOfPasses(await fleetOf(2, 1));
    await world.close();
    const large = await costOfPasses(await fleetOf(12, 1));
    expect(small.incremental.modal).toBe(2);
    expect(large.incremental.modal).toBe(2);
    // GitHub: runs unchanged since the last pass are not read again, however many there are.
    expect(large.incremental.github).toBe(small.incremental.github);
  });
});

// Installations come and go (issue 14, item 6), and a full sweep whose GitHub reads
// fail says so (issue 18): an owner who uninstalls or suspends the App leaves no
// sandbox running on our bill, with or without the event; a busy runner finishes
// its job; the pass reports GitHub's failure as GitHub's.
describe("installations", () => {
  let world: ReconcileWorld;

  afterEach(() => closeChecked(world));

  /** An idle runner (it never connects) waiting for a job. */
  async function idleRunner(clock?: FastForwardClock) {
    world = await startReconcileWorld({ runner: { bootDelayMs: 60_000 }, clock });
    const job = world.queueJob();
    await world.github.deliverWorkflowJob("queued", job);
    await eventually(() => world.modal.running().length === 1, "the sandbox runs");
    await settled(world);
    expect((await world.pass()).repaired).toEqual({});
    return job;
  }

  const installationId = () => world.github.installations()[0]!.id;

  describe.each([
    ["uninstalled", () => world.github.uninstall(installationId(), { notify: false })],
    ["suspended", () => world.github.suspend(installationId(), true, { notify: false })],
  ])("an installation %s without an event reaching the App", (_, remove) => {
    test("its idle runner's sandbox is terminated within three passes", async () => {
      await idleRunner();
      await remove();
      const passes = [];
      for (let i = 0; i < 3 && world.modal.running().length > 0; i++) passes.push(await world.pass());
      expect(world.modal.running()).toHaveLength(0);
      expect(passes.at(-1)!.repaired).toEqual({ "reap-removed-installation": 1 });
      expect(world.modal.sandboxes()[0]).toMatchObject({ endedBy: "terminate" });
    });
  });

  test("the installation.deleted event: waiting jobs dropped, the idle sandbox reaped by the pass it asks for", async () => {
    const clock = new FastForwardClock();
    await idleRunner(clock);
    world.github.webhookUrl = world.app.webhookUrl;
    expect((await world.github.uninstall(installationId()))!.status).toBe(200);
    await settled(world);
    await clock.advance(1000); // the pass it asked for, soon
    await settled(world);
    expect(world.modal.running()).toHaveLength(0);
    // Its repositories are forgotten: a pass reads nothing of it (it has no token) and fails nothing.
    expect(await world.pass()).toMatchObject({ ok: true, failed: 0, checked: { repositories: 0 } });
  });

  test("installation.suspend then unsuspend: reaped while suspended; a full sweep after unsuspend serves what was queued meanwhile", async () => {
    const clock = new FastForwardClock();
    await idleRunner(clock);
    const id = installationId();
    await world.github.suspend(id, true);
    await settled(world);
    await clock.advance(1000); // the pass it asked for, soon
    await settled(world);
    expect(world.modal.running()).toHaveLength(0);
    world.github.webhookUrl = undefined; // GitHub sends nothing to a suspended installation
    await world.github.suspend(id, false, { notify: false });
    const queuedMeanwhile = world.queueJob();
    world.github.webhookUrl = world.app.webhookUrl;
    await world.github.suspend(id, false); // the unsuspend event asks for a full sweep, soon
    await settled(world);
    await clock.advance(1000);
    await settled(world);
    expect(world.modal.byName(`modal-${queuedMeanwhile.id}-0`)).toBeDefined(); // the job queued meanwhile is served
  });

  test("a busy runner of a removed installation finishes its job: its sandbox is left alone", async () => {
    world = await startReconcileWorld({ runner: { jobDurationMs: 60_000 } });
    const job = world.queueJob();
    await world.github.deliverWorkflowJob("queued", job);
    await eventually(() => world.github.job(job.id)?.status === "in_progress", "the job runs");
    await settled(world);
    await world.pass();
    await world.github.uninstall(installationId(), { notify: false });
    for (let i = 0; i < 3; i++) expect((await world.pass()).repaired).toEqual({});
    expect(world.modal.running()).toHaveLength(1);
  });

  test("a full sweep whose installation list fails reports GitHub, not Modal, and still repairs what it saw", async () => {
    await idleRunner();
    world.github.failNext({ method: "GET", route: "/app/installations" }, { status: 500 }, 10);
    world.github.cancelJob(world.github.jobs()[0]!.id); // the idle runner is now surplus
    await world.github.settle();
    await world.app.parts.reconciler.idle();
    const summary = await world.app.parts.reconciler.run({ full: true, reason: "test" });
    expect(summary.ok).toBe(false);
    expect(summary.problem).toMatch(/^could not observe GitHub: /);
    expect(summary.problem).not.toMatch(/Modal/);
    expect(summary.repaired).toEqual({ "remove-surplus-runner": 1 });
    // Readiness names GitHub too, not Modal.
    const lastPass = world.app.parts.telemetry.problems().filter((problem) => problem.startsWith("the last reconcile pass"));
    expect(lastPass).toEqual([expect.stringMatching(/failed: could not observe GitHub: the App's installations: /)]);
    expect(lastPass[0]).not.toMatch(/Modal/);
  });

  test("installation_repositories.removed: that repository's waiting jobs are dropped, others wait on; malformed events change nothing", async () => {
    world = await startReconcileWorld({ repositories: ["app", "other"] });
    world.modal.setOutage(true); // jobs wait for Modal
    const kept = world.queueJob(["self-hosted", "modal"], { repo: "other" });
    const dropped = world.queueJob();
    for (const job of [dropped, kept]) await world.github.deliverWorkflowJob("queued", job);
    // Both wait for Modal (one of them may meanwhile be tried as Modal's probe): neither is over.
    const bothActive = () =>
      [dropped, kept].every((job) => !["finished", undefined].includes(world.app.parts.dispatcher.jobState(job.id)?.state));
    await eventually(() => bothActive() && world.app.parts.fleet.breaker.state().state === "open", "both jobs wait for Modal");

    for (const body of [
      { action: "removed", installation: { id: "1" }, repositories_removed: [{ full_name: "octo-org/other" }] },
      { action: "removed", installation: { id: installationId() }, repositories_removed: "octo-org/other" },
      { action: "deleted", installation: null },
    ])
      expect((await world.github.deliverRaw("installation_repositories", JSON.stringify(body))).status).toBeLessThan(300);
    expect(bothActive()).toBe(true);

    expect((await world.github.removeRepositoryFromInstallation("octo-org/app"))!.status).toBeLessThan(300);
    // The kept job is still being served (waiting, or meanwhile tried as Modal's probe); the other is dropped.
    expect(world.app.parts.dispatcher.jobState(kept.id)?.state).not.toBe("finished");
    expect(world.app.parts.dispatcher.jobState(dropped.id)).toMatchObject({ state: "finished", kind: "forgotten" });
    world.modal.setOutage(false);
  });
});

// Policy per pass (issue 14, item 5): a runner of ours takes a job policy refuses and
// the in_progress webhook is lost. The next pass finds the busy runner in GitHub's
// runner list, its job among the run's jobs (runner_name), checks it against policy,
// and the AssignmentGuard stops the sandbox.
describe("assignments", () => {
  let world: ReconcileWorld;

  afterEach(() => closeChecked(world));

  test("a refused job taken by our runner, its in_progress event lost, is stopped by the next pass; an allowed one is left alone", async () => {
    world = await startReconcileWorld({
      env: { RUNNER_SCOPE: "org", DENIED_REPOSITORIES: "octo-org/secret", UNSERVED_JOB_GRACE: "1h" },
      repositories: ["app", "secret"],
      runner: { bootDelayMs: 60_000 }, // runners connect when the test says
    });
    const denied = world.github.queueJob({
      owner: "octo-org",
      repo: "secret",
      labels: ["self-hosted", "modal"],
      createdAt: new Date(Date.now() - 60_000),
    });
    const allowed = [0, 1].map(() => world.queueJob());
    for (const job of [denied, ...allowed]) await world.github.deliverWorkflowJob("queued", job);
    await eventually(() => world.modal.running().length === 2, "a runner for each allowed job");
    await settled(world);

    world.github.webhookUrl = undefined; // the in_progress events are lost
    const runnerOf = (jobId: number) => world.github.runners().find((runner) => runner.name === `modal-${jobId}-0`)!;
    for (const job of allowed) world.github.connectRunner(runnerOf(job.id).jitConfig);
    expect(world.github.acquireJob(runnerOf(allowed[0]!.id).id)?.id).toBe(denied.id);
    expect(world.github.acquireJob(runnerOf(allowed[1]!.id).id)?.id).toBe(allowed[0]!.id);
    await world.github.settle();
    expect(world.modal.running()).toHaveLength(2); // nothing told the App

    const summary = await world.pass();
    expect(summary.checked.assignments).toBe(2);
    await world.app.parts.idle();
    expect(world.modal.sandboxes().find((sandbox) => sandbox.name === `modal-${allowed[0]!.id}-0`)).toMatchObject({ endedBy: "terminate" });
    // The second allowed job, whose runner (busy in GitHub's list) the first took, is served again at once, grace or not.
    expect(
      world.modal
        .running()
        .map((sandbox) => sandbox.name)
        .sort(),
    ).toEqual([`modal-${allowed[1]!.id}-0`, `modal-${allowed[1]!.id}-1`]);
    // Each assignment is checked once: the next pass does not check them again.
    expect((await world.pass()).checked.assignments).toBe(0);
  });
});
