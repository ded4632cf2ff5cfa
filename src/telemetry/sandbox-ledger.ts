// The sandboxes this replica knows: those it created (with the job, profile and
// time it created them) and those a reconcile pass listed. When one it created ends
// (its runner's job completed, the reconciler terminated it, or it vanished from
// Modal's list), its cost is worked out from its lifetime and its profile's
// resources at Modal's per-second prices, and reported once. Sandboxes created by
// another replica (or before a restart) are shown but not costed here: each replica
// reports what it started, so the replicas' sums add up without double counting.
import { BoundedMap } from "../lib/bounded.js";
import { sameTenant } from "../model/job.js";
import type { RunnerProfile } from "../model/runner-profile.js";
import { profileUsage, sandboxCost, type PriceTable, type SandboxCost } from "./cost.js";

export interface LedgerEntry {
  name: string;
  installationId: number;
  profile: string;
  /** owner/name */
  repository: string | undefined;
  jobId: number | undefined;
  /** Epoch ms. */
  createdAt: number;
  /** Created by this replica (so its cost is reported here). */
  ours: boolean;
}

export interface EndedSandbox extends LedgerEntry {
  endedAt: number;
  cost: SandboxCost;
}

const MAX_ENTRIES = 20_000;

export class SandboxLedger {
  readonly #entries = new BoundedMap<string, LedgerEntry>(MAX_ENTRIES);

  constructor(
    private readonly profiles: (name: string) => RunnerProfile | undefined,
    private readonly prices: PriceTable,
    private readonly onEnded: (ended: EndedSandbox) => void,
    private readonly now: () => number,
  ) {}

  /** This replica created the sandbox. */
  started(entry: Omit<LedgerEntry, "ours" | "createdAt">): void {
    this.#entries.set(entry.name, { ...entry, createdAt: this.now(), ours: true });
  }

  /**
   * A reconcile pass listed these sandboxes (complete: Modal's whole list). Ones it
   * did not list have ended; ones this replica did not create are added for display.
   */
  observed(listed: Array<Omit<LedgerEntry, "ours">>, listedAt: number): void {
    const present = new Set(listed.map((sandbox) => sandbox.name));
    for (const entry of [...this.#entries.values()]) {
      // A sandbox created after the list was taken cannot be on it yet.
      if (!present.has(entry.name) && entry.createdAt < listedAt) this.#end(entry, listedAt);
    }
    for (const sandbox of listed) if (!this.#entries.has(sandbox.name)) this.#entries.set(sandbox.name, { ...sandbox, ours: false });
  }

  /**
   * The sandbox ended (its runner's job completed, or it was terminated); only its
   * own installation can say so, about a repository of the sandbox's account.
   */
  ended(name: string, installationId: number, repository?: string): void {
    const entry = this.#entries.get(name);
    if (entry && sameTenant(entry, { installationId, repository })) this.#end(entry, this.now());
  }

  get(name: string, installationId: number): LedgerEntry | undefined {
    const entry = this.#entries.get(name);
    return entry?.installationId === installationId ? entry : undefined;
  }

  list(): LedgerEntry[] {
    return [...this.#entries.values()];
  }

  #end(entry: LedgerEntry, endedAt: number): void {
    this.#entries.delete(entry.name);
    if (!entry.ours) return;
    const profile = this.profiles(entry.profile);
    if (!profile) return;
    const cost = sandboxCost({ lifetimeMs: endedAt - entry.createdAt, ...profileUsage(profile) }, this.prices);
    this.onEnded({ ...entry, endedAt, cost });
  }
}
