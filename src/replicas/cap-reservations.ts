// Concurrency caps as the dispatcher sees them: reserve a slot before a sandbox is
// made, mark it started, release it when no sandbox came of it, free it when the
// sandbox ended, and correct the count from Modal's list on every reconcile pass.
// One process counts locally (dispatch/capacity.ts); a fleet reserves atomically in
// Redis (redis-cap-reservations.ts), so two replicas cannot both take the last slot.
import type { Caps } from "../model/runner-profile.js";

export interface CapPlacement {
  installationId: number;
  /** owner/name, lower-case. */
  repository: string;
  profile: string;
}

export type Reservation = { reserved: true } | { reserved: false; cap: string };

export interface CapReservations {
  /** Replaces the count with a fresh list from Modal, taken at `listedAt`. */
  observe(sandboxes: Array<{ name: string } & CapPlacement>, listedAt: number): void;
  /** Reserves a slot for the job unless a cap is reached; returns the cap that is. */
  reserve(jobId: number, placement: CapPlacement, caps: Caps): Reservation | Promise<Reservation>;
  /** The reserved job's sandbox now runs. */
  started(jobId: number, sandboxName: string): void;
  /** The reserved job needs no sandbox after all. */
  release(jobId: number): void;
  /** A sandbox ended; only its own tenant can end it (see Capacity.ended). */
  ended(sandboxName: string, installationId: number, repository?: string): void;
  /** Sandboxes counted (running and reserved). */
  readonly size: number;
}

/** Caps divided by the fleet's size (at least 1 each): a replica's share when it cannot ask Redis. */
export function shareOfCaps(caps: Caps, fleetSize: number): Caps {
  const share = (limit: number | undefined) => (limit === undefined ? undefined : Math.max(1, Math.floor(limit / Math.max(1, fleetSize))));
  return {
    total: share(caps.total),
    perInstallation: share(caps.perInstallation),
    perRepository: share(caps.perRepository),
    perProfile: Object.fromEntries(Object.entries(caps.perProfile).map(([name, limit]) => [name, share(limit)!])),
  };
}
