import { readFileSync } from "node:fs";
import { parseDockerfile } from "../../src/modal/parse-dockerfile.js";

describe("runner Dockerfiles", () => {
  test("the default one is the official runner image at a pinned version", () => {
    const image = parseDockerfile(readFileSync("docker/runner/Dockerfile", "utf8"), "docker/runner/Dockerfile");
    expect(image.baseImage).toMatch(/^ghcr\.io\/actions\/actions-runner:\d+\.\d+\.\d+$/);
    expect(image.commands).toEqual([]);
  });

  test("lines after FROM become build steps, continuations joined", () => {
    const image = parseDockerfile("# tools\nFROM ubuntu:24.04 AS base\nRUN apt-get update \\\n  && apt-get install -y jq\nENV A=1\n", "x");
    expect(image).toEqual({ baseImage: "ubuntu:24.04", commands: ["RUN apt-get update    && apt-get install -y jq", "ENV A=1"] });
  });

  test.each([
    ["RUN echo no from", /first instruction must be FROM/],
    ["FROM a\nFROM b", /multi-stage/],
    ["FROM a\nCOPY tool /usr/bin/tool", /COPY.*not supported/],
  ])("%j is refused with a clear error", (text, message) => {
    expect(() => parseDockerfile(text, "docker/runner/Dockerfile")).toThrow(message);
  });
});
