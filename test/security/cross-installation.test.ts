// One installation must never touch another's runners, sandboxes or caps (issue 9).
// Runner names are unique only within an org or repository, and job ids are global:
// an admin of org A can register a self-hosted runner named after org B's job
// (`modal-<B's job id>-0`) and run one of A's jobs on it. GitHub then sends A's
// installation in_progress and completed events carrying that name. Nothing of B's
// may change: its idle sandbox keeps running, its registration stays, its slot
// stays taken, and no reconcile pass terminates anything.
import type { FakeJob } from "@modal-github-runner/simulator/github/types";
import { eventually, settled, startWorld, type RunningApp, type World } from "../support/app-harness.js";
import { runnerConfigFile } from "../profiles/config-file.js";
import { FAST_RECONCILE } from "../reconcile/reconcile-world.js";
import { counterValue, registerForeignRunner } from "./foreign-runner.js";

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
