// Policy per pass (issue 14, item 5): a runner of ours takes a job policy refuses and
// the in_progress webhook is lost. The next pass finds the busy runner in GitHub's
// runner list, its job among the run's jobs (runner_name), checks it against policy,
// and the AssignmentGuard stops the sandbox.
import { eventually, settled } from "../support/app-harness.js";
import { closeChecked, startReconcileWorld, type ReconcileWorld } from "./reconcile-world.js";

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
