// What a fleet of replicas shares, built for the composition root: job claims, cap
// reservations, the once-per-fleet lease and this replica's published view. Without
// REDIS_URL there are no claims and no fleet caps (the dispatcher is exactly the
// single-process one) and the lease is always held; with it, the Redis forms, each
// degrading to a safe local share while Redis is unreachable.
import type { RequestBudgets } from "./github/request-budgets.js";
import type { JobBook } from "./dispatch/job-book.js";
import type { ReconcilePassStatus, StatusFleet } from "./telemetry/status-snapshot.js";
import type { FleetCaps } from "./replicas/cap-reservations.js";
import { LOCAL_LEASE, RedisFleetLease } from "./replicas/fleet-lease.js";
import type { JobClaims } from "./replicas/job-claims.js";
import { RedisCapReservations } from "./replicas/redis-cap-reservations.js";
import { RedisJobClaims } from "./replicas/redis-job-claims.js";
import type { ReplicaView } from "./replicas/replica-registry.js";
import type { RuntimeIo } from "./runtime-io.js";
import type { Settings } from "./settings/load-settings.js";

export interface FleetParts {
  /** Job claims in Redis; undefined for a single process (the dispatcher needs none). */
  claims: JobClaims | undefined;
  /** The caps reserved fleet-wide in Redis; undefined for a single process (the local count decides). */
  fleetCaps: FleetCaps | undefined;
  /**
   * Jobs being served: dispatched here lately (`local`), or, in a fleet, claimed by
   * any replica (of these queued ones). Only a fleet's answer is a promise.
   */
  beingServed(local: (since: number) => number[]): (since: number, queued: number[]) => number[] | Promise<number[]>;
  /** Whether this replica sweeps / asks for redeliveries this interval: once per fleet; always for a single process. */
  fullSweepTurn(): Promise<boolean>;
  redeliveryTurn(): Promise<boolean>;
  /** "degraded: Redis unreachable" while it is, else undefined. */
  degraded(): string | undefined;
  /** The fleet as the status page shows it (undefined for a single process). */
  status(): StatusFleet | undefined;
  /** Publishes this replica's view now and then, and on Redis's return runs `rebuild`. */
  start(sources: ViewSources, rebuild: () => void): void;
  stop(): Promise<void>;
}

/** What this replica's published view is made of. */
export interface ViewSources {
  jobs: Pick<JobBook, "waiting" | "handled">;
  lastPass: () => ReconcilePassStatus | undefined;
  budgets: RequestBudgets;
}

/** This replica's view, as the fleet's other replicas and status pages see it. */
function replicaView(sources: ViewSources): Omit<ReplicaView, "replica" | "at" | "startedAt" | "health"> {
  const lastPass = sources.lastPass();
  return {
    jobs: {
      waiting: sources.jobs.waiting().length,
      dispatching: sources.jobs.handled().filter((entry) => entry.state === "dispatching").length,
    },
    lastPass: lastPass ? { at: Date.parse(lastPass.at), ok: lastPass.ok, full: false } : undefined,
    budget: budgetUse(sources.budgets),
  };
}

export function buildFleetParts(settings: Settings, io: RuntimeIo): FleetParts {
  const { now } = io;
  const shared = io.shared;
  if (!shared) {
    return {
      claims: undefined,
      fleetCaps: undefined,
      beingServed: (local) => (since) => local(since),
      fullSweepTurn: () => LOCAL_LEASE.take("full-sweep", settings.reconcile.fullSweepIntervalMs),
      redeliveryTurn: () => LOCAL_LEASE.take("redeliver", settings.reconcile.intervalMs),
      degraded: () => undefined,
      status: () => undefined,
      start: () => undefined,
      stop: async () => undefined,
    };
  }
  const { link, registry, roundTrips } = shared;
  const count = () => void roundTrips.count++;
  const grace = settings.dispatch.registrationGraceMs;
  const longestLifetime = Math.max(...settings.runner.config.profiles.map((profile) => profile.timeoutMs));
  const startedAt = now();
  const claims = new RedisJobClaims(link, {
    ttlMs: grace,
    lingerMs: Math.min(settings.reconcile.unservedJobGraceMs, grace),
    onRoundTrip: count,
  });
  const fleetCaps = new RedisCapReservations(link, {
    fleetSize: () => registry.size(),
    reservationTtlMs: grace,
    lifetimeMs: longestLifetime + 60_000,
    now,
    onRoundTrip: count,
  });
  let timer: NodeJS.Timeout | undefined;
  let lastView: ReplicaView | undefined;
  const lease = new RedisFleetLease(link, count);

  return {
    claims,
    fleetCaps,
    beingServed: (local) => async (since, queued) => [...local(since), ...(await claims.claimed(queued))],
    // Once per fleet: one replica per interval asks GitHub to redeliver, one per sweep interval sweeps.
    fullSweepTurn: () => lease.take("full-sweep", settings.reconcile.fullSweepIntervalMs * 0.9),
    redeliveryTurn: () => lease.take("redeliver", Math.max(1000, settings.reconcile.intervalMs * 0.9)),
    degraded: () => link.degraded(),
    status: () => ({
      mode: link.available ? "shared" : "degraded",
      health: link.degraded() ?? "ok",
      replica: link.replica,
      redisRoundTrips: roundTrips.count,
      replicas: (registry.known().length > 0 ? registry.known() : lastView ? [lastView] : []).map((view) => ({
        replica: view.replica,
        seenAt: new Date(view.at).toISOString(),
        startedAt: new Date(view.startedAt).toISOString(),
        health: view.health,
        waiting: view.jobs.waiting,
        dispatching: view.jobs.dispatching,
        lastPassAt: view.lastPass ? new Date(view.lastPass.at).toISOString() : undefined,
        budget: view.budget,
      })),
    }),
    start(sources, rebuild) {
      link.onReturn(rebuild);
      const publish = async () => {
        lastView = { ...replicaView(sources), replica: link.replica, at: now(), startedAt, health: link.degraded() ?? "ok" };
        if (!link.available) return;
        roundTrips.count += 2;
        await registry.publish(lastView).catch(() => undefined);
      };
      void link.ready().then(publish, () => undefined);
      // Three times per lifetime of a published view: one lost publish does not make this replica look gone.
      timer = setInterval(() => void publish(), Math.max(250, Math.floor(registry.ttlMs / 3)));
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      claims.stop();
      await registry.leave();
      await link.close();
    },
  };
}

/** This replica's budget use, as its view publishes it. */
export function budgetUse(budgets: RequestBudgets): ReplicaView["budget"] {
  return budgets
    .all()
    .filter(({ key }) => key !== "app")
    .map(({ key, points, capacity, inFlight }) => ({ installation: String(key), points, capacity, inFlight }));
}
