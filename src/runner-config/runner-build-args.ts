// The build arguments every runner Dockerfile may use (RUNNER_VERSION,
// RUNNER_IMAGE_DIGEST), read from docker/runner/versions.env: the one place the
// runner version is written. Found next to the code (src/ or dist/), so it works
// whatever the working directory.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const VERSIONS_FILE = fileURLToPath(new URL("../../docker/runner/versions.env", import.meta.url));
/** The runner image with a Docker engine: the image of a `docker` profile that names none. */
export const DOCKER_DOCKERFILE = fileURLToPath(new URL("../../docker/runner/docker.Dockerfile", import.meta.url));

/** `NAME=value` lines of an env file; `#` comments and blank lines skipped. */
export function parseEnvFile(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (match) values[match[1]!] = match[2]!.trim();
  }
  return values;
}

export function runnerBuildArgs(file = VERSIONS_FILE): Record<string, string> {
  return parseEnvFile(readFileSync(file, "utf8"));
}
