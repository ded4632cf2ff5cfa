// Which runner profile serves a job. The profile's labels must cover every label the
// job asked for, besides those any Modal runner satisfies (`self-hosted`, `linux`,
// `x64`); if several do, the most specific wins: the one with the fewest labels,
// and of equals the one listed first. Pure, so it is tested with a table.
import type { Result } from "../lib/result.js";
import { coversLabels } from "../model/labels.js";
import type { RunnerProfile } from "../model/runner-profile.js";

const SATISFIED_BY_EVERY_RUNNER = new Set(["self-hosted", "linux", "x64"]);

export type ProfileChoice = Result<{ profile: RunnerProfile }>;

export function selectProfile(jobLabels: string[], profiles: RunnerProfile[]): ProfileChoice {
  const wanted = jobLabels.map((label) => label.toLowerCase()).filter((label) => !SATISFIED_BY_EVERY_RUNNER.has(label));
  let best: RunnerProfile | undefined;
  for (const profile of profiles) {
    if (!coversLabels(profile.labels, wanted)) continue;
    if (!best || profile.labels.length < best.labels.length) best = profile;
  }
  if (best) return { ok: true, profile: best };
  const offered = profiles.map((profile) => `${profile.name} [${profile.labels.join(", ")}]`).join("; ");
  return { ok: false, reason: `no runner profile covers the labels [${jobLabels.join(", ")}] (profiles: ${offered || "none allowed"})` };
}
