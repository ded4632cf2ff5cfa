// Modal down means wait, not churn: once Modal's control plane keeps failing, no
// runner registration is minted, jobs wait oldest first, one probe at a time looks
// for the recovery, and then every job is served once, reusing any registration
// minted before the outage was noticed.
import { DEFAULT_BREAKER_OPTIONS } from "../../src/modal/circuit-breaker.js";
import { settled, eventually, startOrgWorld, type World } from "../support/app-harness.js";
import { FastForwardClock } from "../support/fast-forward-clock.js";
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

// The breaker's production timings (first probe after 1 s, doubling up to 30 s), on a
// clock the test advances: seconds of the App's time without waiting for them.
const PRODUCTION_BREAKER = { probeBaseMs: DEFAULT_BREAKER_OPTIONS.probeBaseMs, probeMaxMs: DEFAULT_BREAKER_OPTIONS.probeMaxMs };
const createsIn = (calls: World["modal"]["calls"]) => calls.filter((call) => call.method === "sandboxCreateV2").length;

test("ten jobs during an outage wait without minting or deleting registrations, then each is served once", async () => {
  const clock = new FastForwardClock();
  const app = await world.startApp({}, { modalBreaker: PRODUCTION_BREAKER, clock });
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
  // While open, only probes reach Modal: one job's create at a time, backing off 1, 2, 4, 8 s:
  // four probes in the next 16 s (not one per job, nor one per retry).
  const callsBefore = world.modal.calls.length;
  await clock.advance(16_000, { stepMs: 100, settle: () => app.parts.idle() });
  expect(createsIn(world.modal.calls.slice(callsBefore))).toBe(4);
  expect(world.modal.calls.slice(callsBefore).every((call) => call.method === "sandboxCreateV2")).toBe(true);

  world.modal.setOutage(false);
  // The next probe (16 s after the last) closes the breaker; then every waiting job starts.
  await clock.advance(16_000, { stepMs: 100, settle: () => app.parts.idle() });
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

// Issue 14: when only sandbox creation fails (a capacity incident: lists and lookups
// still answer), the breaker must not close on a lookup's success. The breaker's
// production timings and a 20 s outage, on a clock the test advances.
test("a create-only outage of 20 s with 10 jobs stays at ≤ 10 create attempts per job, and every job is served after", async () => {
  const clock = new FastForwardClock();
  const app = await world.startApp({}, { modalBreaker: PRODUCTION_BREAKER, clock });
  await app.parts.fleet.prepare(app.settings.runner.config.profiles);
  await settled(world);
  world.modal.setOutage("create");
  const jobs = Array.from({ length: 10 }, () => world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["modal"] }));
  for (const job of jobs) await world.github.deliverWorkflowJob("queued", job);
  // Lists and lookups keep working meanwhile (a reconcile pass observes the world).
  await eventually(() => app.parts.fleet.breaker.state().state === "open", "the breaker opens");
  expect(await app.parts.reconciler.run({ reason: "test" })).toMatchObject({ ok: true });
  await clock.advance(20_000, { stepMs: 100, settle: () => app.parts.idle() });
  expect(app.parts.fleet.breaker.state().state).toBe("open"); // no lookup's success closed it
  world.modal.setOutage(false);

  // The next probe is at most 16 s away (1, 2, 4, 8, 16 s apart).
  await clock.advance(16_000, { stepMs: 100, settle: () => app.parts.idle() });
  await eventually(() => world.modal.running().length === 10, "every job has a sandbox");
  await settled(world);
  const creates = world.modal.calls.filter((call) => call.method === "sandboxCreateV2");
  const perJob = new Map<string, number>();
  for (const call of creates) {
    const name = String((call.request as { definition?: { name?: string } }).definition?.name);
    perJob.set(name, (perJob.get(name) ?? 0) + 1);
  }
  console.log(`create-only outage: ${creates.length} create attempts for 10 jobs, at most ${Math.max(...perJob.values())} for one job`);
  expect(creates.length).toBeLessThanOrEqual(10 * jobs.length);
  expect(Math.max(...perJob.values())).toBeLessThanOrEqual(10);
  expect(new Set(world.modal.running().map((sandbox) => sandbox.name))).toEqual(new Set(jobs.map((job) => `modal-${job.id}-0`)));
  for (const job of jobs) expect(outcomes(app, { jobId: job.id, kind: "started" })).toHaveLength(1);
});
