// With RUNNER_VERSION=latest, the App builds its runner images for GitHub's newest
// runner release: the glue between telemetry/ (what the App knows of the release) and
// modal/ (the image's build steps).
import { compareVersions } from "./telemetry/runner-currency.js";
import type { RunnerConfig, RunnerImageDefinition } from "./model/runner-profile.js";
import type { FleetOptions } from "./modal/fleet.js";
import { isRunnerImage, withRunnerRelease } from "./modal/runner-release-steps.js";
import { receiptEnv } from "./telemetry/receipt-env.js";
import type { RunnerVersionWatch } from "./telemetry/runner-version-watch.js";

/**
 * What the fleet adds to every runner sandbox and image: the job receipt's settings,
 * and, with RUNNER_VERSION=latest, images with the newest runner. The runner may skip
 * its self-update only when its image is known to hold the latest release.
 */
export function runnerImageOptions(
  config: RunnerConfig,
  version: { wanted: string; pinned: string },
  watch: RunnerVersionWatch,
): Pick<FleetOptions, "sandboxEnv" | "extendImage"> {
  return {
    sandboxEnv: (profile) => ({
      ...receiptEnv(profile, config),
      ...(isRunnerImage(profile.image, version.pinned) &&
        watch.currency({ refresh: false }).state === "current" && { MODAL_RUNNER_DISABLE_UPDATE: "1" }),
    }),
    ...(version.wanted === "latest" && { extendImage: (definition) => withLatestRunner(definition, watch) }),
  };
}

/**
 * The runner image for GitHub's newest release: the pinned image with the newer
 * runner installed over it (checked against its published SHA-256). Other images,
 * and a release the App cannot read or check, keep the pinned runner.
 */
export async function withLatestRunner(definition: RunnerImageDefinition, watch: RunnerVersionWatch): Promise<RunnerImageDefinition> {
  if (!isRunnerImage(definition, watch.pinned)) return definition;
  const release = await watch.refresh();
  if (!release?.linuxX64 || compareVersions(release.version, watch.pinned) <= 0) return definition;
  const extended = withRunnerRelease(definition, { version: release.version, ...release.linuxX64 });
  watch.builtFor(release.version);
  return extended;
}
