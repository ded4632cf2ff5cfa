// RUNNER_VERSION=latest: the runner images are built on the pinned runner image with
// the newest runner release installed over it, from its published tarball, checked
// against its published SHA-256, so the image holds the latest runner and nothing is
// downloaded when a job starts. The App learns the release when it starts (restart it
// to build for a newer one).
import type { RunnerImageDefinition } from "../model/runner-profile.js";

export interface RunnerTarball {
  version: string;
  /** https URL of actions-runner-linux-x64-<version>.tar.gz */
  url: string;
  sha256: string;
}

/** The pinned runner image's reference starts with this; other images are left alone. */
export const RUNNER_IMAGE_PREFIX = "ghcr.io/actions/actions-runner:";

/** Whether the image is the official runner image at this version (so its runner version is known). */
export function isRunnerImage(definition: RunnerImageDefinition, version: string): boolean {
  return (
    definition.baseImage.startsWith(`${RUNNER_IMAGE_PREFIX}${version}@`) || definition.baseImage === `${RUNNER_IMAGE_PREFIX}${version}`
  );
}

export function withRunnerRelease(definition: RunnerImageDefinition, tarball: RunnerTarball): RunnerImageDefinition {
  // The values are checked (a version, a hex digest, an https URL) before they reach a shell.
  if (!/^\d+\.\d+\.\d+$/.test(tarball.version) || !/^[0-9a-f]{64}$/.test(tarball.sha256) || !/^https:\/\/[^\s'"\\$`]+$/.test(tarball.url))
    throw new Error("the runner release's version, URL or SHA-256 is malformed");
  const install = [
    'RUN as_root=""; [ "$(id -u)" = 0 ] || as_root=sudo',
    `curl -fsSL -o /tmp/actions-runner.tar.gz '${tarball.url}'`,
    `echo '${tarball.sha256}  /tmp/actions-runner.tar.gz' | sha256sum -c -`,
    "$as_root tar xzf /tmp/actions-runner.tar.gz -C /home/runner",
    "$as_root chown -R runner /home/runner",
    "rm -f /tmp/actions-runner.tar.gz",
  ].join(" && ");
  return { baseImage: definition.baseImage, commands: [...definition.commands, install] };
}
