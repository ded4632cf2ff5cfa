// Estimated spend since midnight UTC, by installation and profile, for the status
// page. The counter in metrics.ts keeps the running total for Prometheus; this keeps
// only today's, in memory: a restart starts from zero, which the page's heading
// ("estimated") allows. Prometheus' `increase()` over the counter is the durable view.
import type { Spend } from "./status-snapshot.js";

function utcDay(at: number): string {
  return new Date(at).toISOString().slice(0, 10);
}

export class SpendToday {
  #day = "";
  readonly #totals = new Map<string, Spend>();

  constructor(private readonly now: () => number = Date.now) {}

  add(installation: number, profile: string, dollars: number): void {
    this.#roll();
    const key = `${installation}\u0000${profile}`;
    const entry = this.#totals.get(key) ?? { installation, profile, dollars: 0 };
    entry.dollars += dollars;
    this.#totals.set(key, entry);
  }

  /** Today's spend, largest first. */
  list(): Spend[] {
    this.#roll();
    return [...this.#totals.values()].map((x) => ({ ...x })).sort((a, b) => b.dollars - a.dollars);
  }

  #roll(): void {
    const day = utcDay(this.now());
    if (day !== this.#day) {
      this.#day = day;
      this.#totals.clear();
    }
  }
}
