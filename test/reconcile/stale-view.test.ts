// One job, one runner, whatever the timing: a reconcile pass that observed the world
// while a dispatch was creating its sandbox must not serve the job again, even when
// the dispatch completes between the observation and the plan (issue 7's duplicate
// sandboxes in a burst, or as Modal recovers).
import { eventually, settled } from "../support/app-harness.js";
import { startReconcileWorld, type ReconcileWorld } from "./reconcile-world.js";

let world: ReconcileWorld;
afterEach(async () => {
  await world.close();
});

/** A job whose registration exists and whose sandbox create is in flight (slow). */
async function dispatchInFlight() {
  world.modal.methodLatencyMs.sandboxCreateV2 = 400;
  const job = world.queueJob();
  await world.github.deliverWorkflowJob("queued", job);
  await eventually(() => world.github.runners().length === 1, "the runner is registered");
  expect(world.modal.running()).toHaveLength(0);
  return job;
}

/** Holds the pass's GitHub reads until the create has ended, so the plan comes after the dispatch ended. */
function slowGitHubReads() {
  world.github.holdRequests(eventually(() => world.modal.running().length === 1, "the create ends"));
}

test("one replica: the dispatch completes between the pass's observation and its plan", async () => {
  // REGISTRATION_GRACE 0: only the dispatcher's record can tell the pass that the job is served.
  world = await startReconcileWorld({ env: { REGISTRATION_GRACE: "0s" }, runner: { bootDelayMs: 60_000 } });
  const job = await dispatchInFlight();
  slowGitHubReads();
  const pass = await world.pass();
  await settled(world);

  expect(pass.repaired).toEqual({});
  expect(world.modal.sandboxes().map((sandbox) => sandbox.name)).toEqual([`modal-${job.id}-0`]);
  expect(world.github.runners().map((runner) => runner.name)).toEqual([`modal-${job.id}-0`]);
});

test("two replicas: another replica's pass sees the registration without its sandbox and leaves the job alone", async () => {
  world = await startReconcileWorld({ env: { REGISTRATION_GRACE: "6s" }, runner: { bootDelayMs: 60_000 } });
  const other = await world.startApp({
    RECONCILE_INTERVAL: "0",
    REGISTRATION_GRACE: "6s",
    UNSERVED_JOB_GRACE: "0s",
    IDLE_RUNNER_TIMEOUT: "60s",
    FINISHED_GRACE: "0s",
  });
  const job = await dispatchInFlight(); // on the first replica (the fake delivers to it)
  slowGitHubReads();
  const pass = await other.parts.reconciler.run({ reason: "test" });
  await settled(world);

  expect(pass.repaired).toEqual({});
  expect(world.modal.sandboxes().map((sandbox) => sandbox.name)).toEqual([`modal-${job.id}-0`]);
  expect(world.github.runners().map((runner) => runner.name)).toEqual([`modal-${job.id}-0`]);
});
