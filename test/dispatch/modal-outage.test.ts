// Modal down means wait, not churn: once Modal's control plane keeps failing, no
// runner registration is minted, jobs wait oldest first, one probe at a time looks
// for the recovery, and then every job is served once, reusing any registration
// minted before the outage was noticed.
import { settled, eventually, startOrgWorld, type World } from "../support/app-harness.js";
import { outcomes } from "../support/outcomes.js";

const JIT_ROUTE = "/orgs/{org}/actions/runners/generate-jitconfig";
let world: World;

beforeEach(async () => {
  world = await startOrgWorld();
});

afterEach(async () => {
  world.github.assertNoViolations();
  await world.close();
});

test("ten jobs during an outage wait without minting or deleting registrations, then each is served once", async () => {
  const app = await world.startApp();
  await app.parts.fleet.prepare(app.settings.runner.config.profiles);
  await settled(world);
  world.modal.setOutage(true);
  const jobs = Array.from({ length: 10 }, () => world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["modal"] }));
  for (const job of jobs) await world.github.deliverWorkflowJob("queued", job);
  await eventually(() => app.parts.dispatcher.waiting().length === 10, "every job waits for Modal");
  const mintedDuringOutage = world.github.requests.filter((request) => request.route === JIT_ROUTE).length;
  // Only the attempts under way before the breaker opened got a registration: at most
  // one per job, never minted again (the bound: 15 for 10 jobs over 20 s).
  expect(mintedDuringOutage).toBeLessThanOrEqual(jobs.length);
  expect(app.parts.fleet.breaker.state().state).toBe("open");
  // While open, only probes reach Modal.
  const createsBefore = world.modal.calls.filter((call) => call.method === "sandboxCreateV2").length;
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(world.modal.calls.filter((call) => call.method === "sandboxCreateV2").length).toBe(createsBefore);

  world.modal.setOutage(false);
  await eventually(() => world.modal.running().length === 10, "every job has a sandbox");
  await settled(world);
  expect(app.parts.dispatcher.waiting()).toEqual([]);
  // One registration per job, none deleted: those minted before the outage were reused.
  expect(world.github.requests.filter((request) => request.route === JIT_ROUTE && request.status === 201)).toHaveLength(10);
  expect(world.github.requests.filter((request) => request.method === "DELETE")).toHaveLength(0);
  expect(new Set(world.modal.running().map((sandbox) => sandbox.name))).toEqual(new Set(jobs.map((job) => `modal-${job.id}-0`)));
  // One line when the breaker opened, one when it closed.
  expect(app.logs.lines.filter((line) => line.component === "modal" && line.level === 50)).toHaveLength(1);
  expect(app.logs.lines.filter((line) => line.component === "modal" && typeof line.downForMs === "number")).toHaveLength(1);
  // Each job waited once (one outcome), then started once.
  const kinds = (jobId: number) => outcomes(app, { jobId }).map((outcome) => outcome.kind);
  for (const job of jobs) expect(kinds(job.id).filter((kind) => kind === "started")).toHaveLength(1);
});
