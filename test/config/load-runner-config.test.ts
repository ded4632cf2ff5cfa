// The operator's runner configuration: the documented example loads as documented,
// and every mistake is reported with the file, the key and the problem.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadRunnerConfig, RunnerConfigError } from "../../src/config/load-runner-config.js";

const defaults = { runnerLabel: "modal", image: { baseImage: "ghcr.io/actions/actions-runner:2.334.0", commands: [] }, cpu: 2, memoryMiB: 4096, timeoutMs: 6 * 3600_000 };

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
    if (error instanceof RunnerConfigError) return error.problems.map((problem) => problem.replace(file, "<file>"));
    throw error;
  }
  return [];
}

test("the documented example loads", () => {
  const config = loadRunnerConfig("examples/runner-config.yml", defaults);
  expect(config.caps).toEqual({ total: 50, perInstallation: 20, perRepository: 10, perProfile: { large: 5, gpu: 2 } });
  expect(config.profiles.map((profile) => profile.name)).toEqual(["default", "large", "gpu", "locked-down"]);
  const [standard, large, gpu, lockedDown] = config.profiles;
  expect(standard).toMatchObject({ labels: ["modal"], cpu: 2, memoryMiB: 4096, timeoutMs: 2 * 3600_000, image: defaults.image, network: { egress: "open" } });
  expect(large).toMatchObject({ labels: ["modal", "large"], cpu: 16, memoryMiB: 65536, image: { baseImage: "ghcr.io/actions/actions-runner:2.334.0", commands: [expect.stringMatching(/^RUN sudo apt-get/)] } });
  expect(gpu).toMatchObject({ gpu: "A10G", regions: ["us-east"], secrets: ["huggingface-token"], image: { baseImage: "ghcr.io/actions/actions-runner:2.334.0", commands: [expect.stringMatching(/^RUN /)] } });
  expect(lockedDown).toMatchObject({
    env: { NPM_CONFIG_REGISTRY: "https://registry.npmjs.org/" },
    network: { egress: "allowlist", cidrs: [], domains: expect.arrayContaining(["github.com", "*.actions.githubusercontent.com", "registry.npmjs.org"]) },
  });
});

test.each(["README.md", "DEPLOY.md"])("%s shows the example exactly as it is", (doc) => {
  expect(readFileSync(doc, "utf8")).toContain(readFileSync("examples/runner-config.yml", "utf8"));
});

test("CIDRs and domains are told apart; no network at all is possible", () => {
  const file = fileWith("profiles:\n  a:\n    labels: [modal]\n    network: { egress: allowlist, allow: [10.0.0.0/8, example.com] }\n  b:\n    labels: [modal, b]\n    network: { egress: none }\n");
  const [a, b] = loadRunnerConfig(file, defaults).profiles;
  expect(a!.network).toEqual({ egress: "allowlist", cidrs: ["10.0.0.0/8"], domains: ["example.com"] });
  expect(b!.network).toEqual({ egress: "none" });
});

test.each([
  ["profiles: {}", ["<file>: profiles: define at least one profile"]],
  ["profiles:\n  a:\n    labels: [modal]\n    cpu: lots", ["<file>: profiles.a.cpu: Invalid input: expected number, received string"]],
  ["profiles:\n  a:\n    labels: []", ["<file>: profiles.a.labels: Too small: expected array to have >=1 items"]],
  ["profiles:\n  a:\n    labels: [modal]\n    gpu: 'two big ones'", ['<file>: profiles.a.gpu: a GPU type such as "A10G" or "H100:2"']],
  ["profiles:\n  a:\n    labels: [modal]\n    timeout: 3d", ["<file>: profiles.a.timeout: at most 24h"]],
  ["profiles:\n  a:\n    labels: [modal]\n    network: { egress: allowlist }", ["<file>: profiles.a.network.allow: egress allowlist needs at least one domain or CIDR"]],
  ["profiles:\n  a:\n    labels: [modal]\n    network: { egress: allowlist, allow: ['not a host!'] }", ['<file>: profiles.a.network.allow.0: "not a host!" is neither a domain (example.com, *.example.com) nor a CIDR (10.0.0.0/8)']],
  ["profiles:\n  a:\n    labels: [modal]\n    memory: 4096", ['<file>: profiles.a: Unrecognized key: "memory"']],
  ["profiles:\n  a:\n    labels: [modal]\n    image: { dockerfile: docker/nope.Dockerfile }", [expect.stringMatching(/^<file>: profiles\.a\.image\.dockerfile: .*nope\.Dockerfile does not exist$/)]],
  ["caps: { total: -1 }\nprofiles:\n  a:\n    labels: [modal]", ["<file>: caps.total: Too small: expected number to be >=0"]],
  ["profiles: [", [expect.stringMatching(/^<file>: not valid YAML: /)]],
])("%j is refused: %j", (content, expected) => {
  expect(problems(content)).toEqual(expected);
});

test("a missing file is named", () => {
  expect(() => loadRunnerConfig("/nonexistent/config.yml", defaults)).toThrow("/nonexistent/config.yml: the file does not exist");
});
