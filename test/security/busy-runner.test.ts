// A sandbox is only ever terminated when the App saw its runner idle, or the runner
// is confirmed gone: never because a list call failed (issue 9). Here a runner of
// ours is busy with a long job, another org sends a forged `completed` naming it,
// and the next pass cannot list the org's runners (GitHub answers 502).
import { DEFAULT_OCTOKIT_TUNING } from "../../src/github/create-octokit-class.js";
import { eventually, settled } from "../support/app-harness.js";
import { startReconcileWorld, type ReconcileWorld } from "../reconcile/reconcile-world.js";

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
