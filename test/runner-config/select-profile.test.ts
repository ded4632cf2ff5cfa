// Which profile serves which job: a table.
import type { RunnerProfile } from "../../src/model/runner-profile.js";
import { selectProfile } from "../../src/runner-config/select-profile.js";

function profile(name: string, labels: string[]): RunnerProfile {
  return {
    name,
    labels,
    image: { baseImage: "x", commands: [] },
    cpu: 1,
    memoryMiB: 1,
    gpu: undefined,
    timeoutMs: 60_000,
    regions: [],
    env: {},
    secrets: [],
    network: { egress: "open" },
    sudo: true,
    docker: undefined,
    runtime: undefined,
    maxSandboxes: undefined,
  };
}

const profiles = [
  profile("default", ["modal"]),
  profile("large", ["modal", "large"]),
  profile("gpu", ["modal", "gpu"]),
  profile("gpu-large", ["modal", "gpu", "large"]),
  profile("also-large", ["modal", "large"]),
];

test.each([
  [["self-hosted", "modal"], "default"],
  [["modal"], "default"],
  [["self-hosted", "linux", "x64", "modal"], "default"],
  [["self-hosted", "Linux", "X64", "MODAL"], "default"],
  [["modal", "large"], "large"], // "also-large" has as few labels but is listed later
  [["modal", "gpu"], "gpu"],
  [["modal", "gpu", "large"], "gpu-large"],
  [["large"], "large"], // the runner label is implied by serving the job at all
])("%j goes to %s", (labels, expected) => {
  const choice = selectProfile(labels, profiles);
  expect("profile" in choice && choice.profile.name).toBe(expected);
});

test.each([[["modal", "windows"]], [["modal", "arm64"]], [["modal", "huge"]]])("%j has no profile, and the reason says why", (labels) => {
  const choice = selectProfile(labels, profiles);
  expect(choice).toEqual({ ok: false, reason: expect.stringContaining(`no runner profile covers the labels [${labels.join(", ")}]`) });
});

test("with no profile allowed, the reason says so", () => {
  expect(selectProfile(["modal"], [])).toEqual({ ok: false, reason: expect.stringContaining("none allowed") });
});
