// The dispatcher through the whole App, under stress: Modal's control plane down (jobs
// wait without churn, then each is served once) and one org's burst beside another
// org's job (no starvation). One file (one load of the App's modules) for these cases.
import { DEFAULT_BREAKER_OPTIONS } from "../../src/modal/circuit-breaker.js";
import { settled, eventually, startOrgWorld, type World, startWorld } from "../support/app-harness.js";
import { FastForwardClock } from "../support/fast-forward-clock.js";
import { outcomes } from "../support/outcomes.js";
import { runnerConfigFile } from "../profiles/config-file.js";

// Modal down means wait, not churn: once Modal's control plane keeps failing, no
// runner registration is minted, jobs wait oldest first, one probe at a time looks
// for the recovery, and then every job is served once, reusing any registration
// minted before the outage was noticed.
describe("Modal outages", () => {
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
});

// One org's burst must not starve another org (issue 14). 500 jobs of one org arrive
// at once under GitHub's secondary limits, which pay for about 150 registrations a
// window; then one job of another org arrives. Its sandbox must be created within
// 3 s of its webhook. Scaling: GitHub's one-minute window is shrunk to 10 s on both
// sides (the fake GitHub enforces it, the App's budget paces to it), so the burst's
// wait for its next window is 10 s, not 60 s; the 3 s bound is not scaled. Caps are
// lifted so only the dispatcher's fairness is measured (the default caps would also
// hold the burst back). Before the fix the other org's job waited behind the burst's
// jobs, which held every dispatch slot while they waited on their own budget: about
// a window (58 s unscaled).
describe("one org's burst and another org's job", () => {
  const WINDOW_MS = 10_000;
  let world: World;

  afterEach(async () => {
    await world.close();
  });

  /** When the sandbox named `name` was first asked of Modal (epoch ms). */
  function createdAt(name: string): number | undefined {
    for (const call of world.modal.calls) {
      if (call.method !== "sandboxCreate" && call.method !== "sandboxCreateV2") continue;
      const request = call.request as { definition?: { name?: string }; name?: string };
      if ((request.definition?.name ?? request.name) === name) return call.at;
    }
    return undefined;
  }

  test("500 jobs of one org, then one of another: the other org's sandbox is created within 3 s", async () => {
    world = await startWorld({ githubLatencyMs: 20, modalLatencyMs: 20 });
    const big = world.github.addInstallation({ account: "big-org", accountType: "Organization" });
    world.github.addRepository({ installationId: big.id, owner: "big-org", name: "app" });
    const small = world.github.addInstallation({ account: "small-org", accountType: "Organization" });
    world.github.addRepository({ installationId: small.id, owner: "small-org", name: "api" });
    const config = runnerConfigFile(
      ["caps:", "  total: 100000", "  perInstallation: 100000", "profiles:", "  default:", "    labels: [modal]", ""].join("\n"),
    );
    const app = await world.startApp({ RUNNER_CONFIG: config, LOG_LEVEL: "warn" }, { budgetLimits: { windowMs: WINDOW_MS } });
    await app.parts.fleet.prepare(app.settings.runner.config.profiles);
    await settled(world);
    world.github.secondaryLimits.enable({ windowMs: WINDOW_MS });

    const burst = Array.from({ length: 500 }, () => world.github.queueJob({ owner: "big-org", repo: "app", labels: ["modal"] }));
    await Promise.all(burst.map((job) => world.github.deliverWorkflowJob("queued", job)));
    // The burst has spent its window: its next jobs wait on its own budget.
    await eventually(
      () => burst.filter((job) => createdAt(`modal-${job.id}-0`) !== undefined).length >= 100,
      "the burst is under way",
      30_000,
    );

    const other = world.github.queueJob({ owner: "small-org", repo: "api", labels: ["modal"] });
    const deliveredAt = Date.now();
    await world.github.deliverWorkflowJob("queued", other);
    await eventually(() => createdAt(`modal-${other.id}-0`) !== undefined, "the other org's job has its sandbox", 15_000);
    const waitedMs = createdAt(`modal-${other.id}-0`)! - deliveredAt;
    const burstServed = burst.filter((job) => createdAt(`modal-${job.id}-0`) !== undefined).length;
    console.log(`starvation: the other org's sandbox ${waitedMs} ms after its webhook; ${burstServed} of the burst's 500 served by then`);
    expect(waitedMs).toBeLessThanOrEqual(3000);
    // The burst was still waiting on its budget (otherwise this proves nothing).
    expect(burstServed).toBeLessThan(500);
    expect(burst.filter((job) => app.parts.dispatcher.jobState(job.id)?.state === "waiting").length).toBeGreaterThan(0);
  }, 120_000);
});
