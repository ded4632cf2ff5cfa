// Three replicas of the App on one Redis (REDIS_URL), one fake GitHub and one fake
// Modal: deliveries go to every replica, the fleet serves each job once, any replica's
// status shows the fleet, and with Redis killed the replicas keep serving, say so on
// /health, and share again when it returns.
import { attachSimulatedRunners, type SimulatedRunners } from "@modal-github-runner/simulator/simulated-runner";
import { eventually, fetchProtected, settled, startOrgWorld, type RunningApp, type World } from "../support/app-harness.js";
import { FastForwardClock } from "../support/fast-forward-clock.js";
import { startRedisServer, type RedisServer } from "../support/redis-server.js";

let world: World;
let redis: RedisServer;
let runners: SimulatedRunners | undefined;

beforeEach(async () => {
  redis = await startRedisServer();
  world = await startOrgWorld();
});

afterEach(async () => {
  runners?.stop();
  runners = undefined;
  world.github.assertNoViolations();
  await world.close();
  await redis.stop();
});

const queueJob = () => world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["self-hosted", "modal"] });
const jitConfigs = (status: number) =>
  world.github.requests.filter((request) => request.route.endsWith("/generate-jitconfig") && request.status === status).length;

async function startFleet(count = 3, env: Record<string, string> = {}): Promise<RunningApp[]> {
  const apps: RunningApp[] = [];
  for (let i = 0; i < count; i++)
    apps.push(await world.startApp({ REDIS_URL: redis.url, ...env }, { replicaName: `replica-${i}`, replicaTtlMs: 1500 }));
  await Promise.all(
    apps.map((app) => app.parts.degraded() === undefined || eventually(() => app.parts.degraded() === undefined, "Redis answers")),
  );
  return apps;
}

/** Sends one delivery of the job to each of these replicas at once (a load balancer retrying, a redelivery racing the first). */
async function deliverToAll(apps: RunningApp[], job: ReturnType<typeof queueJob>): Promise<void> {
  const deliveries = apps.map((app) => {
    world.github.webhookUrl = app.webhookUrl;
    return world.github.deliverWorkflowJob("queued", job);
  });
  await Promise.all(deliveries);
}

test("jobs delivered to all three replicas at once are each claimed and served once, with no name collision at GitHub", async () => {
  const apps = await startFleet();
  const jobs = Array.from({ length: 12 }, () => queueJob());
  await Promise.all(jobs.map((job) => deliverToAll(apps, job)));
  await eventually(() => world.modal.running().length === jobs.length, "every job has a sandbox", 15_000);
  await settled(world);

  expect(world.modal.sandboxes()).toHaveLength(jobs.length);
  expect(jitConfigs(201)).toBe(jobs.length);
  // The claim stood the other replicas down before they asked GitHub for the same runner name.
  expect(jitConfigs(409)).toBe(0);
});

describe("a job whose runner another job took is served again at once, not after UNSERVED_JOB_GRACE", () => {
  // Job B was queued first and its webhook is lost; job A's runner (modal-A-0) takes B,
  // the oldest queued job its labels fit. A is then without a runner. Neither the grace
  // (a minute here) nor a timer pass (none here) may be what serves it.
  const graceful = { UNSERVED_JOB_GRACE: "60s", RECONCILE_INTERVAL: "60s" };
  const sandboxNames = () => world.modal.sandboxes().map((sandbox) => sandbox.name);

  async function runnerTakenBy(apps: RunningApp[], inProgressTo: RunningApp) {
    const b = queueJob();
    const a = queueJob();
    // The runner boots when the test skips its clock: after the webhook URL has moved.
    const runnerClock = new FastForwardClock();
    runners = attachSimulatedRunners(world.modal, world.github, { clock: runnerClock, bootDelayMs: 300, jobDurationMs: 5000 });
    world.github.webhookUrl = apps[0]!.webhookUrl;
    await world.github.deliverWorkflowJob("queued", a);
    await eventually(() => sandboxNames().includes(`modal-${a.id}-0`), "A has its sandbox");
    // The in_progress event (B taken by modal-A-0) goes to this replica.
    world.github.webhookUrl = inProgressTo.webhookUrl;
    await runnerClock.advance(300);
    await eventually(() => world.github.job(b.id)?.runnerName === `modal-${a.id}-0`, "A's runner takes B");
    return { a, b };
  }

  test("by the replica whose dispatch made the runner, when the event reaches it", async () => {
    const apps = await startFleet(2, graceful);
    const { a } = await runnerTakenBy(apps, apps[0]!);
    await eventually(() => sandboxNames().includes(`modal-${a.id}-1`), "A is served under its next name", 5000);
    await eventually(() => world.github.job(a.id)?.runnerName === `modal-${a.id}-1`, "A runs on it");
    expect(world.modal.sandboxes()).toHaveLength(2);
  });

  test("by any replica's next pass, when the event reaches another one", async () => {
    const apps = await startFleet(2, graceful);
    const { a } = await runnerTakenBy(apps, apps[1]!);
    await world.github.settle(); // the in_progress event is handled: A's claim is reopened
    await apps[1]!.parts.reconciler.run({ reason: "test" });
    await eventually(() => sandboxNames().includes(`modal-${a.id}-1`), "A is served under its next name", 5000);
    expect(world.modal.sandboxes()).toHaveLength(2);
  });
});

test("any replica's status shows every replica of the fleet", async () => {
  const apps = await startFleet();
  await eventually(
    async () => {
      const status = JSON.parse(await fetchProtected(apps[2]!, "/status.json")) as { fleet?: { replicas: Array<{ replica: string }> } };
      return status.fleet?.replicas.map((replica) => replica.replica).join() === "replica-0,replica-1,replica-2";
    },
    "replica-2's status lists the three replicas",
    10_000,
  );
  const page = await fetchProtected(apps[2]!, "/status");
  expect(["replica-0", "replica-1", "replica-2"].every((name) => page.includes(`<div>${name}</div>`))).toBe(true);
  // Each replica's metrics are its own view, labelled with its name.
  expect(await fetchProtected(apps[1]!)).toContain('modal_runner_fleet_degraded{replica="replica-1"} 0');
});

test("with Redis killed the replicas keep serving and say they are degraded; when it returns they share again", async () => {
  const apps = await startFleet(2);
  runners = attachSimulatedRunners(world.modal, world.github, { bootDelayMs: 300, jobDurationMs: 100 });
  await redis.kill();
  await eventually(() => apps.every((app) => app.parts.degraded() !== undefined), "both replicas notice");

  // Ready once a pass has seen GitHub and Modal (a pass that met Redis timing out as it went away may not count).
  let health: { ready: boolean; degraded: string | null } | undefined;
  await eventually(
    async () => {
      await apps[0]!.parts.reconciler.run({ reason: "test" });
      health = (await (await fetch(`${apps[0]!.url}/health`)).json()) as { ready: boolean; degraded: string | null };
      return health.ready;
    },
    "a pass makes the replica ready while Redis is down",
    15_000,
  );
  expect(health).toMatchObject({ ready: true, degraded: "degraded: Redis unreachable" });
  const status = JSON.parse(await fetchProtected(apps[1]!, "/status.json")) as { fleet?: { health: string } };
  expect(status.fleet?.health).toBe("degraded: Redis unreachable");

  const jobs = Array.from({ length: 4 }, () => queueJob());
  await Promise.all(jobs.map((job) => deliverToAll(apps, job)));
  await eventually(() => world.github.jobs().every((job) => job.status === "completed"), "every job ran", 15_000);
  // Without claims, GitHub's one runner per name (and Modal's one sandbox per name) keep it to one sandbox per job.
  const perJob = new Map<string, number>();
  for (const sandbox of world.modal.sandboxes()) perJob.set(sandbox.tags.job_id!, (perJob.get(sandbox.tags.job_id!) ?? 0) + 1);
  expect([...perJob.values()].filter((count) => count > 1)).toEqual([]);
  expect(world.modal.sandboxes()).toHaveLength(jobs.length);

  await redis.start();
  await eventually(() => apps.every((app) => app.parts.degraded() === undefined), "both replicas share again", 10_000);
  const after = (await (await fetch(`${apps[0]!.url}/health`)).json()) as { degraded: string | null };
  expect(after.degraded).toBeNull();
});
