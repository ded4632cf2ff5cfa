// What each reconcile pass reads and checks: its GitHub bill between full sweeps, and the
// jobs our busy runners took (policy per pass). One file (one load of the App's modules)
// for these cases.
import { type World, eventually, settled, startWorld } from "../support/app-harness.js";
import { FAST_RECONCILE, type ReconcileWorld, closeChecked, startReconcileWorld } from "./reconcile-world.js";

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
