// Installations come and go (issue 14, item 6), and a full sweep whose GitHub reads
// fail says so (issue 18): an owner who uninstalls or suspends the App leaves no
// sandbox running on our bill, with or without the event; a busy runner finishes
// its job; the pass reports GitHub's failure as GitHub's.
import { eventually, settled } from "../support/app-harness.js";
import { FastForwardClock } from "../support/fast-forward-clock.js";
import { closeChecked, startReconcileWorld, type ReconcileWorld } from "./reconcile-world.js";

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

  // The dropped job may be Modal's probe at this moment, its create in flight (the SDK retries
  // a refused create for many seconds): then it is marked over, and its attempt, when it ends
  // without a runner, forgets it (dispatcher.test.ts, "a job GitHub says is over while its
  // attempt is in flight"). A waiting job is dropped at once.
  const inFlight = ["registering", "creating"].includes(world.app.parts.dispatcher.jobState(dropped.id)?.state ?? "");
  expect((await world.github.removeRepositoryFromInstallation("octo-org/app"))!.status).toBeLessThan(300);
  // The kept job is still being served (waiting, or meanwhile tried as Modal's probe); the other is dropped.
  expect(world.app.parts.dispatcher.jobState(kept.id)?.state).not.toBe("finished");
  if (!inFlight) expect(world.app.parts.dispatcher.jobState(dropped.id)).toMatchObject({ state: "finished", kind: "forgotten" });
  expect(world.app.parts.dispatcher.waiting().map((job) => job.id)).not.toContain(dropped.id);
  world.modal.setOutage(false);
});
