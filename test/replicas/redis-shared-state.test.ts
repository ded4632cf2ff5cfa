// Replicas sharing state on a real redis-server: claims, cap reservations and leases as
// two connections see them, and two dispatchers serving a job once. One file (one load of
// the modules) for these cases.
import { pino } from "pino";
import { Capacity } from "../../src/dispatch/capacity.js";
import type { Caps, RunnerProfile } from "../../src/model/runner-profile.js";
import { RedisCapReservations } from "../../src/replicas/redis-cap-reservations.js";
import { RedisFleetLease } from "../../src/replicas/fleet-lease.js";
import { RedisJobClaims } from "../../src/replicas/redis-job-claims.js";
import { RedisLink } from "../../src/replicas/redis-link.js";
import { ReplicaRegistry } from "../../src/replicas/replica-registry.js";
import { type RedisServer, startRedisServer } from "../support/redis-server.js";
import { Dispatcher, FLEET_CAP_RECHECK_MS, type OutcomeRecord } from "../../src/dispatch/dispatcher.js";
import type { ServeRequest } from "../../src/dispatch/serve-job.js";
import type { JobRef } from "../../src/model/job.js";
import { ManualClock } from "../support/manual-clock.js";

// Claims, cap reservations and the once-per-fleet lease on a real redis-server, as
// two replicas (two connections) see them: one claim per job, lapsing when its holder
// dies; the last slot of a cap taken by one replica only; reservations corrected from
// Modal's list (after Redis lost them); one lease holder per interval.
describe("redis shared state", () => {
  let redis: RedisServer;
  const links: RedisLink[] = [];
  const stoppers: Array<() => void> = [];
  let prefix = 0;

  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterEach(async () => {
    stoppers.splice(0).forEach((stop) => stop());
    await Promise.all(links.splice(0).map((link) => link.close()));
  });
  afterAll(async () => {
    await redis.stop();
  });

  /** Two replicas of one fleet (a key prefix of their own per test). */
  async function fleet(count = 2): Promise<RedisLink[]> {
    const keyPrefix = `t${++prefix}:`;
    const made = await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const link = new RedisLink(redis.url, pino({ level: "silent" }), { replica: `r${i}`, keyPrefix });
        links.push(link);
        await link.ready();
        return link;
      }),
    );
    return made;
  }

  function claimsOf(link: RedisLink, ttlMs = 60_000) {
    const claims = new RedisJobClaims(link, { ttlMs, lingerMs: 200 });
    stoppers.push(() => claims.stop());
    return claims;
  }

  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  describe("job claims", () => {
    test("a job is claimed by one replica only, and is being served for every replica", async () => {
      const [a, b] = await fleet();
      const [ca, cb] = [claimsOf(a!), claimsOf(b!)];
      const [aGot7, bGot7, aGot8] = await Promise.all([ca.claim(7), cb.claim(7), ca.claim(8)]);
      // Two connections race for job 7: whichever command reaches Redis first wins, and only it.
      expect([aGot7, bGot7].filter(Boolean)).toHaveLength(1);
      expect(aGot8).toBe(true);
      const [winner, loser] = aGot7 ? [ca, cb] : [cb, ca];
      expect(await winner.claim(7)).toBe(true); // its own claim again (a retry)
      expect(await loser.claim(7)).toBe(false);
      expect([...(await cb.claimed([7, 8, 9]))].sort()).toEqual([7, 8]);
    });

    test("a claim renewed while its dispatch waits outlives the TTL; a dead replica's claim lapses", async () => {
      const [a, b] = await fleet();
      const alive = claimsOf(a!, 300);
      const dead = new RedisJobClaims(b!, { ttlMs: 300, lingerMs: 100 });
      dead.stop(); // it never renews: the replica is gone
      expect(await alive.claim(1)).toBe(true);
      expect(await dead.claim(2)).toBe(true);
      // Until the dead replica's claim lapses (its TTL): claim 1, taken before it, would
      // have lapsed first had it not been renewed.
      const deadline = Date.now() + 5000;
      while ((await alive.claimed([2])).size > 0 && Date.now() < deadline) await sleep(20);
      expect([...(await alive.claimed([1, 2]))]).toEqual([1]);
      expect(await alive.claim(2)).toBe(true); // served again by a live replica
    });

    test("a finished dispatch's claim lingers briefly, then the job is free", async () => {
      const [a, b] = await fleet();
      const [ca, cb] = [claimsOf(a!), claimsOf(b!)];
      await ca.claim(5);
      ca.release({ id: 5, installationId: 1 });
      await sleep(20);
      expect(await cb.claim(5)).toBe(false);
      await sleep(300);
      expect(await cb.claim(5)).toBe(true);
    });

    test("a job whose runner another job took is reopened: its ended claim goes, a dispatch in progress keeps its own", async () => {
      const [a, b] = await fleet();
      const [ca, cb] = [claimsOf(a!), claimsOf(b!)];
      await ca.claim(5);
      ca.release({ id: 5, installationId: 1 }); // its sandbox runs: the claim lingers
      await ca.claim(6); // a dispatch still at work
      await ca.claim(7);
      ca.release({ id: 7, installationId: 1 });
      await sleep(20);
      await cb.reopen({ id: 5, installationId: 1 });
      await cb.reopen({ id: 6, installationId: 1 });
      await cb.reopen({ id: 7, installationId: 2 }); // an event of another installation naming job 7's runner
      expect([...(await cb.claimed([5, 6, 7]))].sort()).toEqual([6, 7]);
      expect(await cb.claim(5)).toBe(true); // served again at once, by any replica
      expect(await cb.claim(6)).toBe(false);
    });

    test("a replica takes its own ended claim again (it serves the job under the next name); another replica does not", async () => {
      const [a, b] = await fleet();
      const [ca, cb] = [claimsOf(a!), claimsOf(b!)];
      await ca.claim(5);
      ca.release({ id: 5, installationId: 1 });
      await sleep(20);
      expect(await cb.claim(5)).toBe(false);
      expect(await ca.claim(5)).toBe(true);
      expect(await cb.claim(5)).toBe(false);
    });
  });

  describe("cap reservations", () => {
    const caps = (limits: Partial<Caps>): Caps => ({
      total: undefined,
      perInstallation: undefined,
      perRepository: undefined,
      perProfile: {},
      ...limits,
    });
    const placement = (installationId: number, repository = "org/app", profile = "default") => ({ installationId, repository, profile });

    function reservationsOf(link: RedisLink, fleetSize = 2) {
      return new RedisCapReservations(link, {
        fleetSize: () => fleetSize,
        reservationTtlMs: 60_000,
        lifetimeMs: 3_600_000,
        now: Date.now,
      });
    }

    test("two replicas cannot both take the last slot of any cap", async () => {
      const [a, b] = await fleet();
      const [ra, rb] = [reservationsOf(a!), reservationsOf(b!)];
      for (const [limits, other] of [
        [caps({ total: 3 }), placement(2, "x/y", "big")],
        [caps({ perInstallation: 3 }), placement(1, "org/other", "big")],
        [caps({ perRepository: 3 }), placement(1, "org/app", "big")],
        [caps({ perProfile: { default: 3 } }), placement(1, "org/other", "default")],
        [caps({ perInstallationProfile: { default: 3 } }), placement(1, "org/other", "default")],
      ] as const) {
        const base = Math.floor(Math.random() * 1e6) * 100;
        const answers = await Promise.all(
          Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? ra : rb).reserve(base + i, placement(1), limits)),
        );
        expect(answers.filter((answer) => answer.ok)).toHaveLength(3);
        const refused = await rb.reserve(base + 50, other, limits);
        expect(refused.ok).toBe(false);
        for (let i = 0; i < 10; i++) (i % 2 === 0 ? ra : rb).release(base + i);
        await sleep(30);
      }
    });

    test("a slot is freed when the sandbox ends, by its own tenant only, and corrected from Modal's list", async () => {
      const [a, b] = await fleet();
      const [ra, rb] = [reservationsOf(a!), reservationsOf(b!)];
      const one = caps({ total: 1 });
      expect((await ra.reserve(1, placement(1), one)).ok).toBe(true);
      ra.started(1, "modal-1-0");
      await sleep(20);
      expect((await rb.reserve(2, placement(1), one)).ok).toBe(false);
      rb.ended("modal-1-0", 99); // another installation's event frees nothing
      await sleep(20);
      expect((await rb.reserve(2, placement(1), one)).ok).toBe(false);
      rb.ended("modal-1-0", 1, "org/app");
      await sleep(20);
      expect((await rb.reserve(2, placement(1), one)).ok).toBe(true);
      rb.started(2, "modal-2-0");
      // Modal's list no longer shows it (ended without an event): the next pass frees the slot.
      await sleep(20);
      rb.observe([], Date.now());
      await sleep(30);
      expect((await ra.reserve(3, placement(1), one)).ok).toBe(true);
    });

    test("after Redis restarted empty, a pass rebuilds the count from Modal's list", async () => {
      const [a] = await fleet(1);
      const ra = reservationsOf(a!, 1);
      const one = caps({ total: 1 });
      await redis.kill();
      await redis.start();
      await waitFor(() => a!.available);
      ra.observe([{ name: "modal-9-0", ...placement(1) }], Date.now());
      await sleep(30);
      expect((await ra.reserve(10, placement(1), one)).ok).toBe(false);
    });

    test("with Redis unreachable a replica's local count takes only its share of a cap", async () => {
      const [a] = await fleet(1);
      const ra = reservationsOf(a!, 2);
      const local = new Capacity(); // what the dispatcher reserves from first
      expect(ra.localCaps(caps({ total: 4 })).total).toBe(4); // Redis decides the rest
      await redis.kill();
      await waitFor(() => !a!.available);
      const answers = [];
      for (let i = 0; i < 4; i++) {
        const mine = local.reserve(100 + i, placement(1), ra.localCaps(caps({ total: 4 }))).ok;
        answers.push(mine && (await ra.reserve(100 + i, placement(1), caps({ total: 4 }))).ok);
      }
      expect(answers).toEqual([true, true, false, false]);
      await redis.start();
      await waitFor(() => a!.available);
    });
  });

  test("the once-per-fleet lease has one holder per interval", async () => {
    const [a, b] = await fleet();
    const [la, lb] = [new RedisFleetLease(a!), new RedisFleetLease(b!)];
    const first = await Promise.all([la.take("full-sweep", 300), lb.take("full-sweep", 300)]);
    expect(first.filter(Boolean)).toHaveLength(1);
    expect(await la.take("redeliver", 300)).toBe(true); // another work's lease
    await sleep(400);
    expect(await lb.take("full-sweep", 300)).toBe(true);
  });

  test("each replica publishes its view; one that stops publishing leaves the fleet after the TTL", async () => {
    const [a, b] = await fleet();
    const view = (replica: string) => ({
      replica,
      at: Date.now(),
      startedAt: 0,
      health: "ok",
      jobs: { waiting: 1, dispatching: 2 },
      lastPass: undefined,
      budget: [],
    });
    const [ga, gb] = [new ReplicaRegistry(a!, 300), new ReplicaRegistry(b!, 300)];
    await gb.publish(view("r1"));
    expect((await ga.publish(view("r0"))).map((seen) => seen.replica)).toEqual(["r0", "r1"]);
    expect(ga.size()).toBe(2);
    await sleep(400);
    expect((await ga.publish(view("r0"))).map((seen) => seen.replica)).toEqual(["r0"]);
  });

  async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error("condition not met in time");
      await sleep(10);
    }
  }
});

// Two dispatchers (two replicas) on one real redis-server, with the fleet's job claims
// and cap reservations: a job delivered to both is served once (the other stands down
// before GitHub, "claimed by another replica"), and a cap reached fleet-wide keeps a
// replica whose own count has room from serving until a slot frees elsewhere.
describe("fleet dispatch", () => {
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
});
