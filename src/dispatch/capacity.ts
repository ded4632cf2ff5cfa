// Concurrency caps: how many sandboxes may run at once, globally, per installation,
// per repository, per profile (all installations) and per profile within one
// installation (an org's own policy file). The count is Modal's list of our
// sandboxes (each reconcile pass refreshes it), plus what this replica started
// since, plus the dispatches in flight here. Several replicas each count the others'
// sandboxes only from the last list, so together they may overshoot a cap briefly,
// by at most what they start between two passes.
//
// The counts are kept per key as sandboxes come and go, so a check costs the same
// whether ten or ten thousand sandboxes run (a pump checks every waiting job).
// `reserve` and `release` are the one place a cap slot is taken and given back.
import { sameTenant } from "../model/job.js";
import type { Caps } from "../model/runner-profile.js";
import { listedPlacement, type ListedSandbox, type Placement, type Reservation } from "../replicas/cap-reservations.js";

// The placement types and the listed-sandbox mapping live one floor down, in
// replicas/cap-reservations.ts, which the fleet's Redis reservations share.
export type { ListedSandbox, Placement, Reservation };
export { listedPlacement as placementOf };

interface Counted extends Placement {
  /** When this replica started it (epoch ms); undefined when it came from a list. */
  startedAt: number | undefined;
}

/** The counters one placement adds to (the key of each cap it is counted under). */
function keysOf(placement: Placement): string[] {
  return [
    "total",
    `i:${placement.installationId}`,
    `r:${placement.repository}`,
    `p:${placement.profile}`,
    `ip:${placement.installationId}:${placement.profile}`,
  ];
}

/** The caps every job counts under (a reservation names the one it failed on). */
export const TOTAL_CAP = "total";
export const INSTALLATION_CAP = "per installation";

/** The caps that apply to a placement, with their counter keys; pure. */
export function capChecks(caps: Caps, placement: Placement): Array<{ cap: string; limit: number | undefined; key: string }> {
  const [total, installation, repository, profile, installationProfile] = keysOf(placement) as [string, string, string, string, string];
  return [
    { cap: TOTAL_CAP, limit: caps.total, key: total },
    { cap: INSTALLATION_CAP, limit: caps.perInstallation, key: installation },
    { cap: "per repository", limit: caps.perRepository, key: repository },
    { cap: `per profile ${placement.profile}`, limit: caps.perProfile[placement.profile], key: profile },
    {
      cap: `per profile ${placement.profile} in this installation`,
      limit: caps.perInstallationProfile?.[placement.profile],
      key: installationProfile,
    },
  ];
}

export class Capacity {
  /** Running sandboxes, by name. */
  readonly #running = new Map<string, Counted>();
  /** Dispatches in flight here, by job id. */
  readonly #reserved = new Map<number, Placement>();
  /** Running plus reserved, per cap key. */
  readonly #counts = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Replaces the count with a fresh list from Modal, taken at `listedAt`. */
  observe(sandboxes: ListedSandbox[], listedAt: number): void {
    const startedSince = [...this.#running].filter(([, counted]) => counted.startedAt !== undefined && counted.startedAt >= listedAt);
    for (const counted of this.#running.values()) this.#count(counted, -1);
    this.#running.clear();
    for (const sandbox of sandboxes) this.#run(sandbox.name, { ...listedPlacement(sandbox), startedAt: undefined });
    for (const [name, counted] of startedSince) this.#run(name, counted);
  }

  /**
   * Reserves a slot for the job unless a cap is reached; returns the cap that is (its
   * reason, and `cap`: which one, e.g. "total" or "per installation").
   */
  reserve(jobId: number, placement: Placement, caps: Caps): Reservation & { cap?: string } {
    if (this.#reserved.has(jobId)) return { ok: true };
    for (const { cap, limit, key } of capChecks(caps, placement)) {
      const used = this.#counts.get(key) ?? 0;
      if (limit !== undefined && used >= limit) return { ok: false, reason: `${cap} (${used}/${limit})`, cap };
    }
    this.#reserved.set(jobId, placement);
    this.#count(placement, +1);
    return { ok: true };
  }

  /** The reserved job's sandbox now runs. */
  started(jobId: number, sandboxName: string): void {
    const placement = this.#reserved.get(jobId);
    if (!placement) return;
    this.release(jobId);
    this.#run(sandboxName, { ...placement, startedAt: this.now() });
  }

  /** The reserved job needs no sandbox after all (served already, no longer queued, failed). */
  release(jobId: number): void {
    const placement = this.#reserved.get(jobId);
    if (!placement) return;
    this.#reserved.delete(jobId);
    this.#count(placement, -1);
  }

  /** Sandboxes counted (running and reserved). */
  get size(): number {
    return this.#running.size + this.#reserved.size;
  }

  /**
   * A sandbox ended (its job finished, or it was terminated). Only the sandbox's
   * own installation can end it: runner names are unique per org, not globally.
   * An event's `repository` must also be of the sandbox's account (a runner serves
   * only its own org's or repository's jobs), so an event whose installation and
   * repository do not go together frees nothing.
   */
  ended(sandboxName: string, installationId: number, repository?: string): void {
    const counted = this.#running.get(sandboxName);
    if (!counted || !sameTenant(counted, { installationId, repository })) return;
    this.#running.delete(sandboxName);
    this.#count(counted, -1);
  }

  #run(name: string, counted: Counted): void {
    const before = this.#running.get(name);
    if (before) this.#count(before, -1);
    this.#running.set(name, counted);
    this.#count(counted, +1);
  }

  #count(placement: Placement, delta: number): void {
    for (const key of keysOf(placement)) {
      const next = (this.#counts.get(key) ?? 0) + delta;
      if (next > 0) this.#counts.set(key, next);
      else this.#counts.delete(key);
    }
  }
}
