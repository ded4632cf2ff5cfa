// The environment a sandbox's receipt hook (docker/runner/job-completed.sh) reads:
// the profile's resources and its price per second, worked out here with the same
// price table and formula as modal_runner_cost_dollars_total, so the developer's
// receipt and the operator's metric agree. Plain figures, no secret.
import type { RunnerConfig, RunnerProfile } from "../model/runner-profile.js";
import { priceTable, pricePerSecond, profileUsage } from "./cost.js";

/** The hint names at most this many smaller profiles (the environment stays small). */
const MAX_HINT_PROFILES = 20;

export function receiptEnv(profile: RunnerProfile, config: Pick<RunnerConfig, "profiles" | "prices">): Record<string, string> {
  const rate = pricePerSecond(profileUsage(profile), priceTable(config.prices));
  // Profiles with less memory and the same GPU: what the hint may suggest instead.
  const smaller = config.profiles
    .filter((other) => other !== profile && other.memoryMiB < profile.memoryMiB && other.gpu === profile.gpu)
    .sort((a, b) => a.memoryMiB - b.memoryMiB)
    .slice(0, MAX_HINT_PROFILES)
    .map((other) => `${other.name}:${other.cpu}:${other.memoryMiB}`);
  return {
    MODAL_RUNNER_PROFILE: profile.name,
    MODAL_RUNNER_CPU: String(profile.cpu),
    MODAL_RUNNER_MEMORY_MIB: String(profile.memoryMiB),
    ...(profile.gpu && { MODAL_RUNNER_GPU: profile.gpu }),
    // String() of a number reads back as the same number (awk's strtod included).
    MODAL_RUNNER_PRICE_PER_SECOND: String(rate.dollars),
    ...(rate.unpricedGpu && { MODAL_RUNNER_UNPRICED_GPU: rate.unpricedGpu }),
    ...(smaller.length > 0 && { MODAL_RUNNER_SMALLER_PROFILES: smaller.join(" ") }),
  };
}
