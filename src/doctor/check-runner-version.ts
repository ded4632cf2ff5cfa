// Whether the runner in the App's images is GitHub's latest release: behind, every
// runner downloads the update at each start (a warning); close to GitHub's 30-day
// deadline, registrations may soon be refused (a failure).
import type { RunnerRelease } from "../github/runner-releases.js";
import { describeFailure } from "../lib/errors.js";
import { describeRunnerCurrency, runnerCurrency } from "../telemetry/runner-currency.js";
import type { Settings } from "../settings/load-settings.js";
import { fail, ok, warn, type CheckResult } from "./check-result.js";

const CHECK = "runner version";

export async function checkRunnerVersion(read: () => Promise<RunnerRelease>, settings: Settings, now: number): Promise<CheckResult> {
  let release: RunnerRelease;
  try {
    release = await read();
  } catch (error) {
    return warn(
      CHECK,
      `cannot read GitHub's latest runner release (actions/runner): ${describeFailure(error).reason}`,
      "on GitHub Enterprise Server, keep docker/runner/versions.env at a version your server accepts; elsewhere, check the App's network path to GitHub",
    );
  }
  const { pinned, wanted } = settings.runner.version;
  // RUNNER_VERSION=latest: the App builds its images for the newest release it can check.
  const image = wanted === "latest" && release.linuxX64 ? release.version : pinned;
  const currency = runnerCurrency(image, release, now);
  const detail = describeRunnerCurrency(currency);
  const fix = `set RUNNER_VERSION and RUNNER_IMAGE_DIGEST in docker/runner/versions.env to ${currency.latest} (ghcr.io/actions/actions-runner:${currency.latest}), or set RUNNER_VERSION=latest`;
  if (currency.state === "current") return ok(CHECK, detail);
  return currency.state === "deadline" ? fail(CHECK, detail, fix) : warn(CHECK, detail, fix);
}
