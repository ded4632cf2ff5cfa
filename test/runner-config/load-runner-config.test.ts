// The operator's runner configuration: the documented example loads as documented,
// and every mistake is reported with the file and line, the key and the problem.
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ConfigError } from "../../src/runner-config/config-error.js";
import { describeRunnerConfig } from "../../src/runner-config/describe-runner-config.js";
import { loadRunnerConfig } from "../../src/runner-config/load-runner-config.js";
import { runnerBuildArgs } from "../../src/runner-config/runner-build-args.js";

const buildArgs = runnerBuildArgs();
const runnerImage = `ghcr.io/actions/actions-runner:${buildArgs.RUNNER_VERSION}@${buildArgs.RUNNER_IMAGE_DIGEST}`;
const defaults = {
  runnerLabel: "modal",
  image: { baseImage: runnerImage, commands: [] },
  cpu: 2,
  memoryMiB: 4096,
  timeoutMs: 6 * 3600_000,
  buildArgs,
};

function fileWith(content: string): string {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), "runner-config-")), "config.yml");
  writeFileSync(file, content);
  return file;
}

function problems(content: string): string[] {
  const file = fileWith(content);
  try {
    loadRunnerConfig(file, defaults);
  } catch (error) {
    if (error instanceof ConfigError) return error.lines.map((line) => line.replace(file, "<file>"));
    throw error;
  }
  return [];
}

const profile = (lines: string) => `profiles:\n  a:\n    labels: [modal]\n${lines}`;

test("the documented example loads", () => {
  const config = loadRunnerConfig("examples/runner-config.yml", defaults);
  expect(config.caps).toEqual({ total: 50, perInstallation: 20, perRepository: 10, perProfile: { large: 5, gpu: 2 } });
  expect(config.profiles.map((entry) => entry.name)).toEqual(["default", "large", "gpu", "locked-down"]);
  const [standard, large, gpu, lockedDown] = config.profiles;
  expect(standard).toMatchObject({
    labels: ["modal"],
    cpu: 2,
    memoryMiB: 4096,
    timeoutMs: 2 * 3600_000,
    image: defaults.image,
    network: { egress: "open" },
    sudo: true,
  });
  expect(large).toMatchObject({
    labels: ["modal", "large"],
    cpu: 16,
    memoryMiB: 65536,
    image: { baseImage: runnerImage, commands: [expect.stringMatching(/^RUN sudo apt-get/)] },
  });
  expect(gpu).toMatchObject({
    gpu: "A10G",
    regions: ["us-east"],
    secrets: ["huggingface-token"],
    image: { baseImage: runnerImage, commands: [expect.stringMatching(/^RUN /)] },
  });
  expect(lockedDown).toMatchObject({
    env: { NPM_CONFIG_REGISTRY: "https://registry.npmjs.org/", NODE_MAJOR: "22" },
    sudo: false,
    network: {
      egress: "allowlist",
      cidrs: [],
      domains: expect.arrayContaining(["github.com", "*.actions.githubusercontent.com", "registry.npmjs.org"]),
    },
  });
  expect(config.prices).toEqual({ gpuPerSecond: { A10G: 0.000306 } });
});

test("CIDRs (IPv4 and IPv6) and domains are told apart; no network at all is possible", () => {
  const file = fileWith(
    "profiles:\n  a:\n    labels: [modal]\n    network: { egress: allowlist, allow: [10.0.0.0/8, '2001:DB8::/32', example.com] }\n  b:\n    labels: [modal, b]\n    network: { egress: none }\n",
  );
  const [a, b] = loadRunnerConfig(file, defaults).profiles;
  expect(a!.network).toEqual({ egress: "allowlist", cidrs: ["10.0.0.0/8", "2001:db8::/32"], domains: ["example.com"] });
  expect(b!.network).toEqual({ egress: "none" });
});

test("env values are strings, GPUs canonical, sudo and prices read", () => {
  const file = fileWith(
    "prices:\n  cpuPerCoreSecond: 0.00004\n  memoryPerGiBSecond: 0.000007\n  gpuPerSecond: { h100: 0.0011 }\nprofiles:\n  a:\n    labels: [modal]\n    gpu: h100:2\n    sudo: false\n    env: { PORT: 8080, DEBUG: true, NAME: x }\n",
  );
  const config = loadRunnerConfig(file, defaults);
  expect(config.profiles[0]).toMatchObject({ gpu: "H100:2", sudo: false, env: { PORT: "8080", DEBUG: "true", NAME: "x" } });
  expect(config.prices).toEqual({ cpuPerCoreSecond: 0.00004, memoryPerGiBSecond: 0.000007, gpuPerSecond: { H100: 0.0011 } });
  expect(config.deprecations).toBeUndefined();
});

test("the old snake_case price keys still load, each with a deprecation naming its line and the new key", () => {
  const file = fileWith(
    "prices:\n  cpu_per_core_second: 0.00004\n  memory_per_gib_second: 0.000007\n  gpu_per_second: { h100: 0.0011 }\nprofiles:\n  a:\n    labels: [modal]\n",
  );
  const config = loadRunnerConfig(file, defaults);
  expect(config.prices).toEqual({ cpuPerCoreSecond: 0.00004, memoryPerGiBSecond: 0.000007, gpuPerSecond: { H100: 0.0011 } });
  expect(config.deprecations).toEqual([
    `${file}:2: prices.cpu_per_core_second is deprecated; write prices.cpuPerCoreSecond`,
    `${file}:3: prices.memory_per_gib_second is deprecated; write prices.memoryPerGiBSecond`,
    `${file}:4: prices.gpu_per_second is deprecated; write prices.gpuPerSecond`,
  ]);
});

test.each(["T4", "L4", "A10", "a10g", "L40S", "A100", "A100-40GB", "a100-80gb", "H100", "H200", "B200", "H100:8", "T4:1"])(
  "gpu %s is accepted",
  (spec) => {
    expect(problems(profile(`    gpu: ${spec}`))).toEqual([]);
  },
);

test.each([
  ["profiles: {}", ["<file>:1: profiles: define at least one profile"]],
  [profile("    cpu: lots"), ["<file>:4: profiles.a.cpu: Invalid input: expected number, received string"]],
  ["profiles:\n  a:\n    labels: []", ["<file>:3: profiles.a.labels: Too small: expected array to have >=1 items"]],
  [
    profile("    gpu: A100X"),
    [expect.stringMatching(/^<file>:4: profiles\.a\.gpu: "A100X" is not a Modal GPU type; one of T4, L4, .*H100:2/)],
  ],
  [profile("    gpu: H100:9"), ['<file>:4: profiles.a.gpu: "H100:9": a GPU count is 1 to 8']],
  [profile("    timeout: 3d"), ["<file>:4: profiles.a.timeout: at most 24h"]],
  [profile("    timeout: soon"), [expect.stringMatching(/^<file>:4: profiles\.a\.timeout: expected a duration such as 90s, 5m, 1h30m/)]],
  [
    profile("    network: { egress: allowlist }"),
    ["<file>:4: profiles.a.network.allow: egress allowlist needs at least one domain or CIDR"],
  ],
  [
    profile("    network: { egress: allowlist, allow: ['not a host!'] }"),
    [
      '<file>:4: profiles.a.network.allow (entry 1): "not a host!" is neither a domain (example.com, *.example.com) nor a CIDR (10.0.0.0/8)',
    ],
  ],
  [
    profile(
      "    network:\n      egress: allowlist\n      allow:\n        - github.com\n        - 0.0.0.0/0\n        - ::/0\n        - 999.1.1.1/99\n        - 10.0.0.1/8\n        - 10.0.0.0/33",
    ),
    [
      '<file>:8: profiles.a.network.allow (entry 2): "0.0.0.0/0" allows every address; use egress: open if that is meant',
      '<file>:9: profiles.a.network.allow (entry 3): "::/0" allows every address; use egress: open if that is meant',
      '<file>:10: profiles.a.network.allow (entry 4): "999.1.1.1/99": "999.1.1.1" is not an IPv4 or IPv6 address',
      '<file>:11: profiles.a.network.allow (entry 5): "10.0.0.1/8" has host bits set; did you mean 10.0.0.0/8 (or 10.0.0.1/32)?',
      '<file>:12: profiles.a.network.allow (entry 6): "10.0.0.0/33": an IPv4 prefix length is 0 to 32',
    ],
  ],
  [
    profile("    network:\n      egress: allowlist\n      allow: [github.com, 0.0.0.0/1, 128.0.0.0/1]"),
    ["<file>:6: profiles.a.network.allow: together these CIDRs allow every IPv4 address; use egress: open if that is meant"],
  ],
  [
    profile("    network:\n      egress: allowlist\n      allow: ['::/1', '8000::/1']"),
    ["<file>:6: profiles.a.network.allow: together these CIDRs allow every IPv6 address; use egress: open if that is meant"],
  ],
  [profile("    memory: 4096"), ["<file>:4: profiles.a.memory: unknown key"]],
  [profile("    env: { PORT: [1] }"), ["<file>:4: profiles.a.env.PORT: a string, number or boolean"]],
  [
    profile("    image: { dockerfile: docker/nope.Dockerfile }"),
    [expect.stringMatching(/^<file>:4: profiles\.a\.image\.dockerfile: .*nope\.Dockerfile does not exist$/)],
  ],
  [
    profile(
      '    image:\n      from: ubuntu:24.04\n      steps:\n        - RUN true\n        - FROM debian\n        - COPY tool /usr/bin/tool\n        - "RUN a\\nRUN b"',
    ),
    [
      "<file>:8: profiles.a.image.steps (entry 2): FROM is not a step: set the base image with image.from (multi-stage builds are not supported)",
      '<file>:9: profiles.a.image.steps (entry 3): "COPY" from a build context is not supported by Modal images; use RUN (curl, apt-get) or a pre-built base image',
      "<file>:10: profiles.a.image.steps (entry 4): one instruction per step: it contains a line break (write a list item per instruction, `&&` inside RUN)",
    ],
  ],
  ["caps: { total: -1 }\nprofiles:\n  a:\n    labels: [modal]", ["<file>:1: caps.total: Too small: expected number to be >=0"]],
  [
    "prices: { gpuPerSecond: { H100X: 1 } }\nprofiles:\n  a:\n    labels: [modal]",
    [expect.stringMatching(/^<file>:1: prices\.gpuPerSecond\.H100X: a Modal GPU type/)],
  ],
  // An old spelling's mistake is shown as the file spells it.
  [
    "prices:\n  gpu_per_second: { H100X: 1 }\nprofiles:\n  a:\n    labels: [modal]",
    [expect.stringMatching(/^<file>:2: prices\.gpu_per_second\.H100X: a Modal GPU type/)],
  ],
  [
    "prices:\n  cpuPerCoreSecond: 1\n  cpu_per_core_second: 2\nprofiles:\n  a:\n    labels: [modal]",
    ["<file>:3: prices.cpu_per_core_second: the old spelling of cpuPerCoreSecond, which is set too: keep one"],
  ],
  ["profiles: [", [expect.stringMatching(/^<file>:1: \(file\): not valid YAML: /)]],
])("%j is refused: %j", (content, expected) => {
  expect(problems(content)).toEqual(expected);
});

test.each([
  [
    "the same labels, listed later",
    "profiles:\n  a:\n    labels: [modal, gpu]\n  b:\n    labels: [gpu, modal]\n",
    '<file>:5: profiles.b.labels: no job can reach this profile: profile "a" has the same labels and is listed first [modal, gpu]',
  ],
  [
    "labels every runner has anyway",
    "profiles:\n  a:\n    labels: [modal]\n  b:\n    labels: [modal, linux]\n",
    '<file>:5: profiles.b.labels: no job can reach this profile: profile "a" covers the same jobs with fewer labels [modal]',
  ],
])("a profile no job can reach is refused (%s)", (_case, content, expected) => {
  expect(problems(content)).toEqual([expected]);
});

test("a missing file is named", () => {
  expect(() => loadRunnerConfig("/nonexistent/config.yml", defaults)).toThrow("/nonexistent/config.yml: (file): the file does not exist");
});

test("the start-up description lists profiles and caps, and no env values", () => {
  const config = loadRunnerConfig("examples/runner-config.yml", defaults);
  const description = describeRunnerConfig(config);
  expect(description).toMatchObject({
    profiles: expect.arrayContaining([
      expect.objectContaining({ name: "gpu", labels: ["modal", "gpu"], cpu: 8, memoryMiB: 32768, gpu: "A10G", maxSandboxes: 2 }),
    ]),
    caps: { total: 50, perInstallation: 20, perRepository: 10, perProfile: { large: 5, gpu: 2 } },
  });
  expect(JSON.stringify(description)).not.toContain("registry.npmjs.org/");
});

describe("docker and runtime", () => {
  const load = (lines: string) => loadRunnerConfig(fileWith(profile(lines)), defaults).profiles[0]!;

  test("docker: true is Docker on the VM runtime, from the runner image with a Docker engine", () => {
    const loaded = load("    docker: true");
    expect(loaded).toMatchObject({ docker: "vm", runtime: "vm" });
    expect(loaded.image.baseImage).toBe(runnerImage);
    // The versions come from versions.env, written into the steps (Modal gets no build arguments).
    const install = loaded.image.commands.join("\n");
    expect(install).toContain(`"docker-ce=5:${buildArgs.DOCKER_VERSION}-*"`);
    expect(install).toContain(`"containerd.io=${buildArgs.CONTAINERD_VERSION}-*"`);
    expect(install).toContain(`"docker-buildx-plugin=${buildArgs.BUILDX_VERSION}-*"`);
    expect(install).toContain(`"docker-compose-plugin=${buildArgs.COMPOSE_VERSION}-*"`);
    expect(install).not.toMatch(/\$\{[A-Z_]+_VERSION\}/);
  });

  test("docker: gvisor keeps Modal's default runtime; a profile's own image is kept", () => {
    expect(load("    docker: gvisor\n    image: { from: 'example.com/ci:1' }")).toMatchObject({
      docker: "gvisor",
      runtime: undefined,
      image: { baseImage: "example.com/ci:1", commands: [] },
    });
  });

  test.each([
    ["    runtime: vm", { docker: undefined, runtime: "vm" }],
    ["    runtime: gvisor", { docker: undefined, runtime: "gvisor" }],
    ["    docker: false", { docker: undefined, runtime: undefined }],
    ["", { docker: undefined, runtime: undefined, image: defaults.image }],
  ])("%j", (lines, expected) => {
    expect(load(lines)).toMatchObject(expected);
  });

  test.each([
    [profile("    docker: yes"), ['<file>:4: profiles.a.docker: true (Docker on the VM runtime), "gvisor" or false']],
    [profile("    runtime: runc"), ["<file>:4: profiles.a.runtime: vm or gvisor (Modal's sandbox runtimes)"]],
    [
      profile("    docker: true\n    runtime: gvisor"),
      [
        "<file>:5: profiles.a.runtime: docker: true runs Docker on the VM runtime; for Docker on gVisor write docker: gvisor (and no runtime)",
      ],
    ],
    [
      profile("    docker: gvisor\n    runtime: vm"),
      ["<file>:4: profiles.a.docker: docker: gvisor is Docker on gVisor; on the VM runtime write docker: true"],
    ],
    [
      profile("    docker: true\n    gpu: L4"),
      ["<file>:5: profiles.a.gpu: Modal's VM runtime takes no GPU; for Docker with a GPU use docker: gvisor, or drop runtime: vm"],
    ],
    [
      profile("    runtime: vm\n    gpu: L4"),
      ["<file>:5: profiles.a.gpu: Modal's VM runtime takes no GPU; for Docker with a GPU use docker: gvisor, or drop runtime: vm"],
    ],
    [
      profile("    docker: gvisor\n    sudo: false"),
      [
        "<file>:5: profiles.a.sudo: a member of the docker group is root in the sandbox (docker run -v /:/host): a profile with docker cannot keep sudo: false",
      ],
    ],
  ])("%j is refused: %j", (content, expected) => {
    expect(problems(content)).toEqual(expected);
  });

  test("docker: gvisor with a GPU is accepted", () => {
    expect(problems(profile("    docker: gvisor\n    gpu: L4"))).toEqual([]);
  });
});
