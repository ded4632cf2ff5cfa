// A status snapshot with something in every section, for the status page tests.
import type { StatusSnapshot } from "../../src/observe/status-snapshot.js";

/** Times are `now` minus a few seconds or minutes, so ages read right at any `now`. */
export function sampleSnapshot(overrides: Partial<StatusSnapshot> = {}, now = Date.parse("2026-11-28T10:05:00.000Z")): StatusSnapshot {
  const at = (iso: string): string => new Date(now - (Date.parse("2026-11-28T10:05:00.000Z") - Date.parse(iso))).toISOString();
  return {
    generatedAt: at("2026-11-28T10:05:00.000Z"),
    installations: [
      { id: 101, account: "acme", githubBudget: { remaining: 812, limit: 900, resetAt: at("2026-11-28T10:06:00.000Z") } },
      { id: 202, account: "octo-labs", githubBudget: { remaining: 60, limit: 900 } },
    ],
    jobs: [
      { installation: 101, profile: "default", waiting: 0, dispatching: 1, running: 3 },
      { installation: 101, profile: "gpu-l4", waiting: 2, dispatching: 0, running: 1 },
      { installation: 202, profile: "default", waiting: 0, dispatching: 0, running: 1 },
    ],
    outcomes: [
      { at: at("2026-11-28T10:04:58.000Z"), jobId: 9001, repo: "acme/api", kind: "started" },
      {
        at: at("2026-11-28T10:04:40.000Z"),
        jobId: 9000,
        repo: "acme/web",
        kind: "waiting",
        reason: "cap reached: 4 of 4 sandboxes for profile gpu-l4",
      },
      { at: at("2026-11-28T10:03:12.000Z"), jobId: 8999, repo: "octo-labs/site", kind: "refused", reason: "public repository" },
      { at: at("2026-11-28T10:01:00.000Z"), jobId: 8998, repo: "acme/api", kind: "failed", reason: "Modal answered UNAVAILABLE" },
    ],
    sandboxes: [
      { name: "mgr-9001-0", createdAt: at("2026-11-28T10:04:59.000Z"), jobId: 9001, repo: "acme/api", profile: "default", state: "busy" },
      { name: "mgr-8990-0", createdAt: at("2026-11-28T09:40:00.000Z"), jobId: 8990, repo: "acme/web", profile: "gpu-l4", state: "busy" },
      { name: "mgr-8995-1", createdAt: at("2026-11-28T10:04:30.000Z"), profile: "default", state: "idle" },
    ],
    reconciler: {
      lastPass: {
        at: at("2026-11-28T10:04:30.000Z"),
        ok: true,
        durationMs: 412,
        repairs: { "serve-job": 1, "delete-runner": 2 },
        errors: [],
      },
      lastSuccessAt: at("2026-11-28T10:04:30.000Z"),
    },
    modalBreaker: { state: "closed" },
    spendToday: [
      { installation: 101, profile: "default", dollars: 1.2345 },
      { installation: 101, profile: "gpu-l4", dollars: 3.5 },
      { installation: 202, profile: "default", dollars: 0.0421 },
    ],
    ...overrides,
  };
}
