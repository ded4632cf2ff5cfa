// What a fleet of replicas shares, built for the composition root: job claims, cap
// reservations, the once-per-fleet lease and this replica's published view. Without
// REDIS_URL there are no claims and no fleet caps (the dispatcher is exactly the
// single-process one) and the lease is always held; with it, the Redis forms, each
// degrading to a safe local share while Redis is unreachable.
import type { RequestBudgets } from "./github/request-budgets.js";
import type { StatusFleet } from "./telemetry/status-snapshot.js";
import type { FleetCaps } from "./replicas/cap-reservations.js";
import { LOCAL_LEASE, RedisFleetLease, type FleetLease } from "./replicas/fleet-lease.js";
import { LOCAL_JOB_CLAIMS, type JobClaims } from "./replicas/job-claims.js";
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
  /** Of these queued jobs, those any replica has claimed (none for a single process). */
  claimed(jobIds: number[]): Promise<Set<number>>;
  lease: FleetLease;
  /** "degraded: Redis unreachable" while it is, else undefined. */
  degraded(): string | undefined;
  /** The fleet as the status page shows it (undefined for a single process). */
  status(): StatusFleet | undefined;
  /** Publishes this replica's view now and then (every `everyMs`), and on Redis's return runs `rebuild`. */
  start(view: () => Omit<ReplicaView, "replica" | "at" | "startedAt" | "health">, rebuild: () => void, everyMs: number): void;
  stop(): Promise<void>;
}

export function buildFleetParts(settings: Settings, io: RuntimeIo): FleetParts {
  const { now } = io;
  const shared = io.shared;
  if (!shared) {
    return {
      claims: undefined,
      fleetCaps: undefined,
      claimed: (jobIds) => LOCAL_JOB_CLAIMS.claimed(jobIds),
      lease: LOCAL_LEASE,
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

  return {
    claims,
    fleetCaps,
    claimed: (jobIds) => claims.claimed(jobIds),
    lease: new RedisFleetLease(link, count),
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
    start(view, rebuild, everyMs) {
      link.onReturn(rebuild);
      const publish = async () => {
        lastView = { ...view(), replica: link.replica, at: now(), startedAt, health: link.degraded() ?? "ok" };
        if (!link.available) return;
        roundTrips.count += 2;
        await registry.publish(lastView).catch(() => undefined);
      };
      void link.ready().then(publish, () => undefined);
      timer = setInterval(() => void publish(), everyMs);
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
