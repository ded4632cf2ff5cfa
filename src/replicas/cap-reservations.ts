// Concurrency caps for a fleet. Each replica keeps its local count (dispatch/capacity.ts),
// which the dispatcher's fair-share pump reserves from synchronously; a fleet adds one
// reservation in Redis when a job starts being served (before its runner is
// registered), so two replicas cannot both take the last slot of a cap. The Redis form
// is redis-cap-reservations.ts; one process has none (the local count decides alone).
// (The shapes match dispatch/capacity.ts's; they are spelled here because replicas/ sits
// below dispatch/.)
import type { Result } from "../lib/result.js";
import { repositoryKey } from "../model/job.js";
import type { Caps } from "../model/runner-profile.js";

export interface Placement {
  installationId: number;
  /** owner/name, lower-case. */
  repository: string;
  profile: string;
}

/** A sandbox as a reconcile pass lists it: its tags may be missing. */
export interface ListedSandbox {
  name: string;
  installationId: number | undefined;
  repository: string | undefined;
  profile: string | undefined;
}

/** A "no" names the cap reached and its count (`perInstallation (3/3)`). */
export type Reservation = Result;

/** Where a listed sandbox counts: a sandbox without tags still counts toward the total. */
export function listedPlacement(sandbox: ListedSandbox): Placement {
  return {
    installationId: sandbox.installationId ?? 0,
    repository: repositoryKey(sandbox.repository ?? ""),
    profile: sandbox.profile ?? "",
  };
}

export interface FleetCaps {
  /** The caps the local count enforces now: all of them while Redis decides as well, this replica's share while Redis is away. */
  localCaps(caps: Caps): Caps;
  /** Reserves the job's slot fleet-wide unless a cap is reached (granted while Redis is away: the local share decided). */
  reserve(jobId: number, placement: Placement, caps: Caps): Promise<Reservation>;
  /** The reserved job's sandbox now runs. */
  started(jobId: number, sandboxName: string): void;
  /** The reserved job needs no sandbox after all. */
  release(jobId: number): void;
  /** A sandbox ended; only its own tenant can end it (see Capacity.ended). */
  ended(sandboxName: string, installationId: number, repository?: string): void;
  /** Corrects the fleet's count from a fresh list from Modal, taken at `listedAt`. */
  observe(sandboxes: ListedSandbox[], listedAt: number): void;
  /** Sandboxes counted fleet-wide (running and reserved), as of the last answer. */
  readonly size: number;
}

/** Caps divided by the fleet's size (at least 1 each): a replica's share when it cannot ask Redis. */
export function shareOfCaps(caps: Caps, fleetSize: number): Caps {
  const share = (limit: number | undefined) => (limit === undefined ? undefined : Math.max(1, Math.floor(limit / Math.max(1, fleetSize))));
  const shareAll = (limits: Record<string, number>) =>
    Object.fromEntries(Object.entries(limits).map(([name, limit]) => [name, share(limit)!]));
  return {
    total: share(caps.total),
    perInstallation: share(caps.perInstallation),
    perRepository: share(caps.perRepository),
    perProfile: shareAll(caps.perProfile),
    ...(caps.perInstallationProfile && { perInstallationProfile: shareAll(caps.perInstallationProfile) }),
  };
}
