// Prometheus metrics at GET /metrics: what the App did with jobs, what the
// reconciler repaired, what waits. Counts only: no repository names, no secrets.
import type { IncomingMessage, ServerResponse } from "node:http";
import { Counter, Gauge, Registry } from "prom-client";
import type { DispatchOutcome } from "../dispatch/dispatcher.js";
import type { PassSummary } from "../reconcile/reconciler.js";

export class Metrics {
  readonly registry = new Registry();
  readonly #jobs = new Counter({ name: "modal_runner_jobs_total", help: "Queued jobs handled, by outcome (started, already-served, not-queued, retry-later, waiting, refused, failed)", labelNames: ["outcome"], registers: [this.registry] });
  readonly #repairs = new Counter({ name: "modal_runner_reconcile_repairs_total", help: "Repairs made by the reconciler, by kind", labelNames: ["kind"], registers: [this.registry] });
  readonly #passes = new Counter({ name: "modal_runner_reconcile_passes_total", help: "Reconcile passes, by result (ok: Modal could be observed)", labelNames: ["result"], registers: [this.registry] });
  readonly #apiCalls = new Counter({ name: "modal_runner_reconcile_api_calls_total", help: "API calls spent by reconcile passes", labelNames: ["api"], registers: [this.registry] });

  readonly #guard = new Counter({ name: "modal_runner_assignment_checks_total", help: "Jobs our runners took, checked against policy after dispatch, by outcome (stopped: the job was refused and its runner stopped)", labelNames: ["outcome"], registers: [this.registry] });

  constructor(gauges: { waiting: () => number; sandboxes: () => number }) {
    new Gauge({ name: "modal_runner_jobs_waiting", help: "Jobs waiting for capacity (a cap is reached)", registers: [this.registry], collect() { this.set(gauges.waiting()); } });
    new Gauge({ name: "modal_runner_sandboxes", help: "Runner sandboxes counted against the caps (last reconcile list plus those started since)", registers: [this.registry], collect() { this.set(gauges.sandboxes()); } });
  }

  job(outcome: DispatchOutcome): void {
    this.#jobs.inc({ outcome });
  }

  guard(outcome: string): void {
    this.#guard.inc({ outcome });
  }

  pass(summary: PassSummary): void {
    this.#passes.inc({ result: summary.ok ? "ok" : "failed" });
    for (const [kind, count] of Object.entries(summary.repaired)) this.#repairs.inc({ kind }, count);
    this.#apiCalls.inc({ api: "github" }, summary.apiCalls.github);
    this.#apiCalls.inc({ api: "modal" }, summary.apiCalls.modal);
  }

  handler() {
    return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
      if (req.method !== "GET" || new URL(req.url ?? "/", "http://localhost").pathname !== "/metrics") return false;
      res.writeHead(200, { "content-type": this.registry.contentType }).end(await this.registry.metrics());
      return true;
    };
  }
}
