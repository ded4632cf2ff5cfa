// The doctor's verdict in one line, for the CLI's last line and the server's
// start-up log. Warnings do not fail it: they name something that works but is
// probably not what the operator wants (e.g. the Modal app is created on first use).
import type { CheckResult } from "./check-result.js";

export interface CheckSummary {
  ok: boolean;
  counts: { ok: number; warn: number; fail: number };
  /** "doctor: 9 ok, 1 warning, 0 failures (warn: modal app)" */
  line: string;
}

export function summarizeChecks(results: CheckResult[]): CheckSummary {
  const counts = { ok: 0, warn: 0, fail: 0 };
  for (const result of results) counts[result.status]++;
  const notable = [...new Set(results.filter((result) => result.status !== "ok").map((result) => `${result.status}: ${result.check}`))];
  const line = `doctor: ${counts.ok} ok, ${counts.warn} warning${counts.warn === 1 ? "" : "s"}, ${counts.fail} failure${counts.fail === 1 ? "" : "s"}${notable.length ? ` (${notable.join("; ")})` : ""}`;
  return { ok: counts.fail === 0, counts, line };
}
