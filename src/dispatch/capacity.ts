// Concurrency caps: how many sandboxes may run at once, globally, per installation,
// per repository and per profile. The count is Modal's list of our sandboxes (each
// reconcile pass refreshes it), plus what this replica started since, plus the
// dispatches in flight here. Several replicas each count the others' sandboxes only
// from the last list, so together they may overshoot a cap briefly, by at most what
// they start between two passes.
import { sameTenant } from "../model/job.js";
import type { Caps } from "../model/runner-profile.js";

export interface Placement {
  installationId: number;
  /** owner/name, lower-case. */
  repository: string;
  profile: string;
}

interface Counted extends Placement {
  /** When this replica started it (epoch ms); undefined when it came from a list. */
  startedAt: number | undefined;
}

export class Capacity {
  /** Running sandboxes, by name. */
  readonly #running = new Map<string, Counted>();
  /** Dispatches in flight here, by job id. */
  readonly #reserved = new Map<number, Placement>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Replaces the count with a fresh list from Modal, taken at `listedAt`. */
  observe(sandboxes: Array<{ name: string } & Placement>, listedAt: number): void {
    const startedSince = [...this.#running].filter(([, counted]) => counted.startedAt !== undefined && counted.startedAt >= listedAt);
    this.#running.clear();
    for (const sandbox of sandboxes) this.#running.set(sandbox.name, { ...sandbox, startedAt: undefined });
    for (const [name, counted] of startedSince) this.#running.set(name, counted);
  }

  /** Reserves a slot for the job unless a cap is reached; returns the cap that is. */
  reserve(jobId: number, placement: Placement, caps: Caps): { reserved: true } | { reserved: false; cap: string } {
    if (this.#reserved.has(jobId)) return { reserved: true };
    const all = [...this.#running.values(), ...this.#reserved.values()];
    const count = (same: (other: Placement) => boolean) => all.filter(same).length;
    const checks: Array<[string, number | undefined, number]> = [
      ["total", caps.total, all.length],
      ["per installation", caps.perInstallation, count((other) => other.installationId === placement.installationId)],
      ["per repository", caps.perRepository, count((other) => other.repository === placement.repository)],
      [`per profile ${placement.profile}`, caps.perProfile[placement.profile], count((other) => other.profile === placement.profile)],
    ];
    for (const [cap, limit, used] of checks) {
      if (limit !== undefined && used >= limit) return { reserved: false, cap: `${cap} (${used}/${limit})` };
    }
    this.#reserved.set(jobId, placement);
    return { reserved: true };
  }

  /** The reserved job's sandbox now runs. */
  started(jobId: number, sandboxName: string): void {
    const placement = this.#reserved.get(jobId);
    this.#reserved.delete(jobId);
    if (placement) this.#running.set(sandboxName, { ...placement, startedAt: this.now() });
  }

  /** The reserved job needs no sandbox after all (served already, no longer queued, failed). */
  release(jobId: number): void {
    this.#reserved.delete(jobId);
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
    if (counted && sameTenant(counted, { installationId, repository })) this.#running.delete(sandboxName);
  }
}
