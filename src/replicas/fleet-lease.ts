// Work done once per fleet (asking GitHub to redeliver failed deliveries, the full
// sweep of every repository): whoever takes the lease does it; it lasts as long as the
// work's interval, so the others skip it until then. One process always holds it, and
// so does every replica while Redis is away (the work is idempotent: twice is only
// wasteful).
import type { RedisLink } from "./redis-link.js";

export interface FleetLease {
  /** True when this replica should do `work` now (it took the lease for `ttlMs`). */
  take(work: string, ttlMs: number): Promise<boolean>;
}

export const LOCAL_LEASE: FleetLease = { take: () => Promise.resolve(true) };

export class RedisFleetLease implements FleetLease {
  constructor(
    private readonly link: RedisLink,
    private readonly onRoundTrip?: () => void,
  ) {}

  async take(work: string, ttlMs: number): Promise<boolean> {
    if (!this.link.available) return true;
    try {
      this.onRoundTrip?.();
      return (
        (await this.link.client.set(this.link.key("lease", work), this.link.replica, "PX", Math.max(1, Math.floor(ttlMs)), "NX")) === "OK"
      );
    } catch {
      return true;
    }
  }
}
