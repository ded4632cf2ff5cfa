// What the App did, as its parts record it: the dispatcher's outcome records (kept
// by TelemetryFeed) and log lines picked by their structured
// fields. Tests of behaviour assert these, not the wording of log messages.
import type { JobOutcome } from "../../src/telemetry/outcome-log.js";
import type { RunningApp } from "./app-harness.js";
import type { LogLine } from "./log-capture.js";

/** The App's last job outcomes (about 50), oldest first, those matching `filter`. */
export function outcomes(app: RunningApp, filter: Partial<JobOutcome> = {}): JobOutcome[] {
  const all = app.parts.telemetry.recentOutcomes();
  return all.filter((outcome) => Object.entries(filter).every(([key, value]) => outcome[key as keyof JobOutcome] === value)).reverse();
}

/** Log lines whose structured fields have these values (level, jobId, component…), whatever their message. */
export function linesWith(app: RunningApp, fields: Record<string, unknown>): LogLine[] {
  return app.logs.lines.filter((line) => Object.entries(fields).every(([key, value]) => line[key] === value));
}
