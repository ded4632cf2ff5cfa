// One runner version, written in docker/runner/versions.env: every file that names
// the runner image or its version must agree with it, so a bump is one edit and a
// forgotten copy fails here.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { parseDockerfile } from "../../src/runner-config/parse-dockerfile.js";
import { runnerBuildArgs } from "../../src/runner-config/runner-build-args.js";

const { RUNNER_VERSION: version, RUNNER_IMAGE_DIGEST: digest } = runnerBuildArgs();
const tracked = execFileSync("git", ["ls-files"], { encoding: "utf8" })
  .split("\n")
  .filter(
    (file) =>
      file !== "" && !file.startsWith("packages/simulator/") && !file.startsWith("test/simulator/") && !/package-lock\.json$/.test(file),
  );

test("versions.env gives a version and a digest", () => {
  expect(version).toMatch(/^\d+\.\d+\.\d+$/);
  expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
});

test("no file writes another runner version", () => {
  const disagreeing: string[] = [];
  for (const file of tracked) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue; // deleted in the work tree
    }
    for (const match of text.matchAll(/actions-runner:(\d+\.\d+\.\d+)|runner (?:version )?v?(2\.\d{3}\.\d+)/g)) {
      const found = match[1] ?? match[2];
      if (found !== version) disagreeing.push(`${file}: ${match[0]}`);
    }
  }
  expect(disagreeing).toEqual([]);
});

test.each(["docker/runner/Dockerfile", "docker/runner/gpu.Dockerfile", "docker/runner/docker.Dockerfile"])(
  "%s takes its base image from versions.env",
  (file) => {
    const text = readFileSync(file, "utf8");
    expect(text).toMatch(/^FROM ghcr\.io\/actions\/actions-runner:\$\{RUNNER_VERSION\}@\$\{RUNNER_IMAGE_DIGEST\}$/m);
    expect(parseDockerfile(text, file, runnerBuildArgs()).baseImage).toBe(`ghcr.io/actions/actions-runner:${version}@${digest}`);
  },
);
