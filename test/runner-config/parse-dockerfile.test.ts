import { readFileSync } from "node:fs";
import { parseDockerfile, stepProblem } from "../../src/runner-config/parse-dockerfile.js";
import { runnerBuildArgs } from "../../src/runner-config/runner-build-args.js";

describe("runner Dockerfiles", () => {
  test("the default one is the official runner image at the pinned version and digest", () => {
    const image = parseDockerfile(readFileSync("docker/runner/Dockerfile", "utf8"), "docker/runner/Dockerfile", runnerBuildArgs());
    expect(image.baseImage).toMatch(/^ghcr\.io\/actions\/actions-runner:\d+\.\d+\.\d+@sha256:[0-9a-f]{64}$/);
    expect(image.commands).toEqual([]);
  });

  test("the GPU one installs what its comment promises", () => {
    const text = readFileSync("docker/runner/gpu.Dockerfile", "utf8");
    const image = parseDockerfile(text, "docker/runner/gpu.Dockerfile", runnerBuildArgs());
    expect(image.commands.join("\n")).toMatch(/apt-get install .*python3 python3-pip python3-venv/);
    // It promised CUDA tools once without installing them: only promise what is installed.
    expect(text).toMatch(/installs no CUDA toolkit/);
  });

  test("lines after FROM become build steps, continuations joined", () => {
    const image = parseDockerfile("# tools\nFROM ubuntu:24.04 AS base\nRUN apt-get update \\\n  && apt-get install -y jq\nENV A=1\n", "x");
    expect(image).toEqual({ baseImage: "ubuntu:24.04", commands: ["RUN apt-get update    && apt-get install -y jq", "ENV A=1"] });
  });

  test("ARG lines before FROM take build arguments, or their defaults", () => {
    const text = "ARG TAG=24.04\nARG DIGEST\nFROM ubuntu:${TAG}@$DIGEST\nRUN true\n";
    expect(parseDockerfile(text, "x", { DIGEST: "sha256:abc" })).toEqual({ baseImage: "ubuntu:24.04@sha256:abc", commands: ["RUN true"] });
    expect(parseDockerfile(text, "x", { TAG: "22.04", DIGEST: "sha256:abc" }).baseImage).toBe("ubuntu:22.04@sha256:abc");
  });

  test.each([
    ["RUN echo no from", /first instruction must be FROM/],
    ["FROM a\nFROM b", /multi-stage/],
    ["FROM a\nCOPY tool /usr/bin/tool", /COPY.*not supported/],
    ["FROM a\nADD https://example.com/x /x", /ADD.*not supported/],
    ["FROM a\nRUNN true", /"RUNN" is not a Dockerfile instruction/],
    ["ARG V\nFROM a:${V}", /FROM uses \$\{V\} with no value/],
  ])("%j is refused with a clear error", (text, message) => {
    expect(() => parseDockerfile(text, "docker/runner/Dockerfile")).toThrow(message);
  });

  test("a step is one instruction", () => {
    expect(stepProblem("RUN a && b")).toBeUndefined();
    expect(stepProblem("COPY --from=ghcr.io/x/y:1 /bin/y /usr/bin/y")).toBeUndefined();
    expect(stepProblem("RUN a\nRUN b")).toMatch(/line break/);
  });
});
