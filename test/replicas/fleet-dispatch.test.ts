// Two dispatchers (two replicas) on one real redis-server, with the fleet's job claims
// and cap reservations: a job delivered to both is served once (the other stands down
// before GitHub, "claimed by another replica"), and a cap reached fleet-wide keeps a
// replica whose own count has room from serving until a slot frees elsewhere.
import { pino } from "pino";
import { Capacity } from "../../src/dispatch/capacity.js";
import { Dispatcher, FLEET_CAP_RECHECK_MS, type OutcomeRecord } from "../../src/dispatch/dispatcher.js";
import type { ServeRequest } from "../../src/dispatch/serve-job.js";
import type { JobRef } from "../../src/model/job.js";
import type { Caps, RunnerProfile } from "../../src/model/runner-profile.js";
import { RedisCapReservations } from "../../src/replicas/redis-cap-reservations.js";
import { RedisJobClaims } from "../../src/replicas/redis-job-claims.js";
import { RedisLink } from "../../src/replicas/redis-link.js";
import { ManualClock } from "../support/manual-clock.js";
import { startRedisServer, type RedisServer } from "../support/redis-server.js";

let redis: RedisServer;
const cleanups: Array<() => Promise<void> | void> = [];
let prefix = 0;

beforeAll(async () => {
  redis = await startRedisServer();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});
afterAll(async () => {
  await redis.stop();
});

const INSTALLATION = 7;
const profile = { name: "default", labels: ["modal"] } as RunnerProfile;
const caps = (limits: Partial<Caps>): Caps => ({
  total: undefined,
  perInstallation: undefined,
  perRepository: undefined,
  perProfile: {},
  ...limits,
});

function job(id: number): JobRef {
  return {
    id,
    runId: id,
    name: "build",
    labels: ["modal"],
    createdAt: new Date(1_700_000_000_000 + id * 1000).toISOString(),
    repository: { id: 1, owner: "octo-org", name: "app", ownerType: "Organization", private: true, visibility: "private" },
    installationId: INSTALLATION,
  };
}

/** Replicas of one fleet (a key prefix of their own per test), each with its dispatcher. */
async function fleet(jobCaps: Caps, count = 2) {
  const keyPrefix = `d${++prefix}:`;
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const link = new RedisLink(redis.url, pino({ level: "silent" }), { replica: `r${i}`, keyPrefix });
      await link.ready();
      const clock = new ManualClock();
      const claims = new RedisJobClaims(link, { ttlMs: 60_000, lingerMs: 200 });
      const fleetCaps = new RedisCapReservations(link, {
        fleetSize: () => count,
        reservationTtlMs: 60_000,
        lifetimeMs: 3_600_000,
        now: Date.now,
      });
      const records: OutcomeRecord[] = [];
      const served: number[] = [];
      const dispatcher = new Dispatcher({
        concurrency: 4,
        plan: async () => ({ ok: true, profile, caps: jobCaps }),
        serve: async (target: JobRef, request: ServeRequest) => {
          served.push(target.id);
          return {
            kind: "started",
            runnerName: `modal-${target.id}-${request.attempt}`,
            runnerId: target.id,
            sandboxId: `sb-${target.id}`,
          };
        },
        capacity: new Capacity(clock.now),
        claims,
        fleetCaps,
        modal: { unavailable: () => undefined, probeDue: () => false, whenAvailable: () => new Promise<void>(() => undefined) },
        log: pino({ level: "silent" }),
        clock,
        onOutcome: (record) => records.push(record),
      });
      cleanups.push(async () => {
        dispatcher.stop();
        claims.stop();
        await link.close();
      });
      return { clock, dispatcher, fleetCaps, records, served };
    }),
  );
}

async function eventually(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not in time`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test("a job handed to both replicas is served by one; the other stands down before planning", async () => {
  const [a, b] = await fleet(caps({}));
  for (const id of [1, 2, 3]) {
    a!.dispatcher.enqueue(job(id));
    b!.dispatcher.enqueue(job(id));
  }
  const kinds = (id: number) => [a!, b!].flatMap((replica) => replica.records.filter((r) => r.job.id === id).map((r) => r.kind)).sort();
  await eventually(() => [1, 2, 3].every((id) => kinds(id).length === 2), "both replicas decided");
  for (const id of [1, 2, 3]) expect(kinds(id)).toEqual(["already-served", "started"]);
  expect([...a!.served, ...b!.served].sort()).toEqual([1, 2, 3]);
  const standDown = [...a!.records, ...b!.records].find((record) => record.kind === "already-served");
  expect(standDown?.reason).toBe("claimed by another replica");
});

test("a cap reached fleet-wide holds a job on a replica whose own count has room, until a slot frees elsewhere", async () => {
  const [a, b] = await fleet(caps({ total: 1 }));
  a!.dispatcher.enqueue(job(11));
  await eventually(() => a!.served.includes(11), "replica a serves the first job");
  await eventually(() => a!.dispatcher.jobState(11)?.state === "running", "its sandbox runs");

  b!.dispatcher.enqueue(job(12));
  await eventually(() => b!.records.some((r) => r.kind === "waiting" && r.waitingFor === "capacity"), "replica b waits for the cap");
  expect(b!.served).toEqual([]);
  expect(b!.records.find((r) => r.kind === "waiting")?.reason).toMatch(/^cap reached: total/);
  // Looked at again after the recheck time: the fleet's cap is still full.
  await b!.clock.advance(FLEET_CAP_RECHECK_MS);
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(b!.served).toEqual([]);

  a!.fleetCaps.ended("modal-11-0", INSTALLATION, "octo-org/app");
  await new Promise((resolve) => setTimeout(resolve, 50));
  await b!.clock.advance(FLEET_CAP_RECHECK_MS);
  await eventually(() => b!.served.includes(12), "replica b serves once the slot freed");
});
