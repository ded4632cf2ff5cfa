// "A sandbox ended" has one path (assemble's sandboxEnded), whoever tells it: the
// completed webhook of our runner's job, or a reconcile pass that terminated the
// sandbox. Either way its cap slot frees, its cost is charged once, and a later
// pass that no longer sees it charges nothing more.
import { eventually, settled } from "../support/app-harness.js";
import { FastForwardClock } from "../support/fast-forward-clock.js";
import { closeChecked, startReconcileWorld, type ReconcileWorld } from "./reconcile-world.js";

let world: ReconcileWorld;

afterEach(() => closeChecked(world));

/** Dollars charged so far (modal_runner_cost_dollars_total, all labels). */
async function charged(): Promise<number> {
  const metric = world.app.parts.metrics.registry.getSingleMetric("modal_runner_cost_dollars_total");
  const { values } = await metric!.get();
  return values.reduce((sum, value) => sum + value.value, 0);
}

test("our runner's job completed: its slot frees, its cost is charged once, and a pass after adds nothing", async () => {
  // The App and the runner on one clock: the job's second is skipped, not waited for.
  const clock = new FastForwardClock();
  world = await startReconcileWorld({ clock, runner: { clock, jobDurationMs: 1_000 } });
  const job = world.queueJob();
  await world.github.deliverWorkflowJob("queued", job);
  await eventually(() => world.app.parts.capacity.size === 1, "the sandbox is counted");
  expect(await charged()).toBe(0);
  await eventually(() => world.github.job(job.id)?.status === "in_progress", "the job runs");
  await clock.advance(1_000);
  await eventually(() => world.github.job(job.id)?.status === "completed", "the job ran");
  await eventually(() => world.app.parts.capacity.size === 0, "the completed event frees the slot");
  await settled(world);
  const once = await charged();
  expect(once).toBeGreaterThan(0);
  await world.pass();
  await world.pass();
  expect(await charged()).toBe(once);
  expect(world.app.parts.capacity.size).toBe(0);
});

test("a pass terminated an idle runner's sandbox: its slot frees and its cost is charged once", async () => {
  world = await startReconcileWorld({ runner: { bootDelayMs: 60_000 } }); // the runner never connects
  const job = world.queueJob();
  await world.github.deliverWorkflowJob("queued", job);
  await eventually(() => world.modal.running().length === 1, "the sandbox runs");
  await settled(world);
  world.github.cancelJob(job.id); // its runner is now surplus
  await world.github.settle();
  await world.app.parts.reconciler.idle();
  expect(world.app.parts.capacity.size).toBe(1);
  expect(await charged()).toBe(0);
  expect((await world.pass()).repaired).toEqual({ "remove-surplus-runner": 1 });
  expect(world.modal.running()).toHaveLength(0);
  expect(world.app.parts.capacity.size).toBe(0);
  const once = await charged();
  expect(once).toBeGreaterThan(0);
  await world.pass();
  expect(await charged()).toBe(once);
});
