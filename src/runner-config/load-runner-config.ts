// The operator's runner configuration (RUNNER_CONFIG): runner profiles, caps and
// price overrides, in YAML, checked at start-up. Every problem names the file and
// line, the key and what is wrong; list positions count from 1, as a person counts.
// Without a file, one default profile serves RUNNER_LABEL with the SANDBOX_*
// settings and the RUNNER_DOCKERFILE image.
import { readFileSync } from "node:fs";
import path from "node:path";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from "yaml";
import { z } from "zod";
import { parseDockerfile, stepProblem } from "./parse-dockerfile.js";
import { DOCKER_DOCKERFILE } from "./runner-build-args.js";
import { type RunnerImageDefinition } from "../model/runner-profile.js";
import { selectProfile } from "./select-profile.js";
import { sandboxLifetime } from "../lib/duration.js";
import { ConfigError, type ConfigProblem } from "./config-error.js";
import { coveredFamily, looksLikeCidr, parseCidr } from "./parse-cidr.js";
import { parseGpu } from "./parse-gpu.js";
import { describeFailure } from "../lib/errors.js";
import { describeFileFailure } from "../lib/read-text-file.js";
import type { Caps, NetworkPolicy, Prices, RunnerConfig, RunnerProfile } from "../model/runner-profile.js";

const label = z.string().regex(/^[^\s,]+$/, "a label has no spaces or commas");
const cap = z.number().int().min(0);
const DOMAIN = /^(\*\.)?([a-z0-9-]+\.)+[a-z]{2,}$/i;
const price = z.number().nonnegative();

const steps = z.array(z.string()).superRefine((list, ctx) => {
  list.forEach((step, index) => {
    const problem = stepProblem(step);
    if (problem) ctx.addIssue({ code: "custom", path: [index], message: problem });
  });
});

const imageSchema = z.union([
  z.strictObject({
    from: z.string().regex(/^\S+$/, "a registry image reference, without spaces or line breaks"),
    steps: steps.default([]),
  }),
  // A Dockerfile of the operator's, plus optional steps of this profile after its own.
  z.strictObject({ dockerfile: z.string().min(1), steps: steps.default([]) }),
]);

const networkSchema = z
  .strictObject({ egress: z.enum(["open", "none", "allowlist"]), allow: z.array(z.string()).default([]) })
  .superRefine((network, ctx) => {
    if (network.egress === "allowlist" && network.allow.length === 0)
      ctx.addIssue({ code: "custom", path: ["allow"], message: "egress allowlist needs at least one domain or CIDR" });
    if (network.egress !== "allowlist" && network.allow.length > 0)
      ctx.addIssue({ code: "custom", path: ["allow"], message: `only used with egress: allowlist` });
    network.allow.forEach((entry, index) => {
      if (looksLikeCidr(entry)) {
        const cidr = parseCidr(entry);
        if (!cidr.ok) ctx.addIssue({ code: "custom", path: ["allow", index], message: cidr.reason });
      } else if (!DOMAIN.test(entry)) {
        ctx.addIssue({
          code: "custom",
          path: ["allow", index],
          message: `"${entry}" is neither a domain (example.com, *.example.com) nor a CIDR (10.0.0.0/8)`,
        });
      }
    });
    // Entries refused above are reported already (a /0 on its own says so).
    const family = coveredFamily(network.allow.filter((entry) => looksLikeCidr(entry) && parseCidr(entry).ok));
    if (family !== undefined)
      ctx.addIssue({
        code: "custom",
        path: ["allow"],
        message: `together these CIDRs allow every ${family} address; use egress: open if that is meant`,
      });
  });

const gpu = z.string().transform((raw, ctx) => {
  const checked = parseGpu(raw);
  if (!checked.ok) {
    ctx.addIssue({ code: "custom", message: checked.reason });
    return z.NEVER;
  }
  return checked.gpu;
});

/** YAML reads `PORT: 8080` as a number and `DEBUG: true` as a boolean; the environment only has strings. */
const envValue = z.union([z.string(), z.number(), z.boolean()], "a string, number or boolean").transform(String);

const profileSchema = z.strictObject({
  labels: z.array(label).min(1),
  image: imageSchema.optional(),
  cpu: z.number().positive().optional(),
  memoryMiB: z.number().int().positive().optional(),
  gpu: gpu.optional(),
  timeout: sandboxLifetime().optional(),
  regions: z.array(z.string().min(1)).default([]),
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "an environment variable name"), envValue).default({}),
  secrets: z.array(z.string().regex(/^[A-Za-z0-9._-]{1,63}$/, "a Modal secret name")).default([]),
  network: networkSchema.default({ egress: "open", allow: [] }),
  sudo: z.boolean().default(true),
  // Docker inside the sandbox: true on Modal's VM runtime, "gvisor" with Modal's enable_docker option.
  docker: z.union([z.boolean(), z.literal("gvisor")], 'true (Docker on the VM runtime), "gvisor" or false').default(false),
  runtime: z.enum(["vm", "gvisor"], "vm or gvisor (Modal's sandbox runtimes)").optional(),
  maxSandboxes: cap.optional(),
});

const pricesSchema = z.strictObject({
  cpuPerCoreSecond: price.optional(),
  memoryPerGiBSecond: price.optional(),
  gpuPerSecond: z
    .record(
      z.string().refine((type) => parseGpu(type).ok && !type.includes(":"), {
        message: "a Modal GPU type (T4, L4, A10G, L40S, A100-40GB, A100-80GB, H100, H200, B200)",
      }),
      price,
    )
    .optional(),
});

/**
 * The file's keys are camelCase (`memoryMiB`, `maxSandboxes`). The price keys were
 * once snake_case: the old spellings still work, with a deprecation warning, so
 * files written before keep loading.
 */
const OLD_PRICE_KEYS = {
  cpu_per_core_second: "cpuPerCoreSecond",
  memory_per_gib_second: "memoryPerGiBSecond",
  gpu_per_second: "gpuPerSecond",
} as const;

/**
 * Renames old price keys to the current ones (a copy; the input is left alone). A
 * key written both ways is a problem: which one is meant cannot be told.
 */
export function renameOldPriceKeys(raw: unknown): {
  raw: unknown;
  deprecated: Array<{ old: string; current: string }>;
  conflicts: Array<{ old: string; current: string }>;
} {
  const deprecated: Array<{ old: string; current: string }> = [];
  const conflicts: Array<{ old: string; current: string }> = [];
  if (typeof raw !== "object" || raw === null || !("prices" in raw)) return { raw, deprecated, conflicts };
  const prices = raw.prices;
  if (typeof prices !== "object" || prices === null || Array.isArray(prices)) return { raw, deprecated, conflicts };
  const renamed: Record<string, unknown> = { ...prices };
  for (const [old, current] of Object.entries(OLD_PRICE_KEYS)) {
    if (!(old in renamed)) continue;
    if (current in renamed) conflicts.push({ old, current });
    else {
      renamed[current] = renamed[old];
      delete renamed[old];
      deprecated.push({ old, current });
    }
  }
  return { raw: { ...raw, prices: renamed }, deprecated, conflicts };
}

const configSchema = z.strictObject({
  caps: z.strictObject({ total: cap.optional(), perInstallation: cap.optional(), perRepository: cap.optional() }).default({}),
  prices: pricesSchema.default({}),
  profiles: z
    .record(z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, "a profile name (letters, digits, '-', '_')"), profileSchema)
    .refine((profiles) => Object.keys(profiles).length > 0, "define at least one profile"),
});

export interface ProfileDefaults {
  runnerLabel: string;
  image: RunnerImageDefinition;
  cpu: number;
  memoryMiB: number;
  timeoutMs: number;
  /** Build arguments for profile Dockerfiles (docker/runner/versions.env). */
  buildArgs?: Record<string, string>;
  /** Caps that apply unless the file's `caps` sets them (CAP_TOTAL, CAP_PER_INSTALLATION). */
  caps?: { total?: number; perInstallation?: number };
}

/** `profiles.a.network.allow (entry 7)`: keys joined, list positions counted from 1. */
function keyOf(segments: readonly PropertyKey[]): string {
  let key = "";
  for (const segment of segments) key += typeof segment === "number" ? ` (entry ${segment + 1})` : `${key ? "." : ""}${String(segment)}`;
  return key || "(top level)";
}

/** Finds where a key path is written in the file, as a 1-based line (the deepest part of the path that exists). */
function lineFinder(document: ReturnType<typeof parseDocument>, counter: LineCounter) {
  return (segments: readonly PropertyKey[]): number | undefined => {
    let node: Node | null | undefined = document.contents as Node | null;
    let offset = node?.range?.[0];
    for (const segment of segments) {
      if (isMap(node)) {
        const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment));
        if (!pair) break;
        offset = (pair.key as Node).range?.[0] ?? offset;
        node = pair.value as Node | null;
        if (node?.range) offset = node.range[0];
      } else if (isSeq(node) && typeof segment === "number") {
        const item = node.items[segment] as Node | undefined;
        if (!item?.range) break;
        node = item;
        offset = item.range[0];
      } else break;
    }
    return offset === undefined ? undefined : counter.linePos(offset).line;
  };
}

function toNetwork(network: z.infer<typeof networkSchema>): NetworkPolicy {
  if (network.egress !== "allowlist") return { egress: network.egress };
  const cidrs = network.allow.filter(looksLikeCidr);
  // Already checked by the schema: every CIDR here parses.
  const normalised = cidrs.map((entry) => {
    const checked = parseCidr(entry);
    return checked.ok ? checked.cidr : entry;
  });
  return { egress: "allowlist", cidrs: normalised, domains: network.allow.filter((entry) => !looksLikeCidr(entry)) };
}

const SATISFIED_BY_EVERY_RUNNER = new Set(["self-hosted", "linux", "x64"]);

/**
 * Profiles no job can reach: the most specific job a profile serves is one asking
 * for exactly its labels; if even that job goes to another profile (the same
 * labels listed earlier, or fewer labels once self-hosted/linux/x64 are set
 * aside), the profile is dead configuration. Uses the dispatcher's own choice.
 */
function unreachable(profiles: RunnerProfile[]): Array<{ profile: RunnerProfile; winner: RunnerProfile }> {
  const found: Array<{ profile: RunnerProfile; winner: RunnerProfile }> = [];
  for (const profile of profiles) {
    const choice = selectProfile(
      profile.labels.filter((entry) => !SATISFIED_BY_EVERY_RUNNER.has(entry)),
      profiles,
    );
    if (choice.ok && choice.profile !== profile) found.push({ profile, winner: choice.profile });
  }
  return found;
}

/**
 * Combinations of docker, runtime, gpu and sudo that Modal refuses or that would
 * break the profile's promise, as [key, message] pairs. Modal's VM runtime is
 * alpha and its guide describes CPU and memory only: a GPU there is refused here
 * rather than at the first job.
 */
function runtimeProblems(profile: z.infer<typeof profileSchema>): Array<[string, string]> {
  const found: Array<[string, string]> = [];
  const vm = profile.docker === true || profile.runtime === "vm";
  if (profile.docker === true && profile.runtime === "gvisor")
    found.push(["runtime", "docker: true runs Docker on the VM runtime; for Docker on gVisor write docker: gvisor (and no runtime)"]);
  if (profile.docker === "gvisor" && profile.runtime === "vm")
    found.push(["docker", "docker: gvisor is Docker on gVisor; on the VM runtime write docker: true"]);
  if (vm && profile.gpu)
    found.push(["gpu", "Modal's VM runtime takes no GPU; for Docker with a GPU use docker: gvisor, or drop runtime: vm"]);
  if (profile.docker !== false && !profile.sudo)
    found.push([
      "sudo",
      "a member of the docker group is root in the sandbox (docker run -v /:/host): a profile with docker cannot keep sudo: false",
    ]);
  return found;
}

/** The single profile used without a config file. */
export function defaultRunnerConfig(defaults: ProfileDefaults): RunnerConfig {
  return {
    profiles: [
      {
        name: "default",
        labels: [defaults.runnerLabel.toLowerCase()],
        image: defaults.image,
        cpu: defaults.cpu,
        memoryMiB: defaults.memoryMiB,
        gpu: undefined,
        timeoutMs: defaults.timeoutMs,
        regions: [],
        env: {},
        secrets: [],
        network: { egress: "open" },
        sudo: true,
        docker: undefined,
        runtime: undefined,
        maxSandboxes: undefined,
      },
    ],
    caps: { total: defaults.caps?.total, perInstallation: defaults.caps?.perInstallation, perRepository: undefined, perProfile: {} },
    prices: {},
  };
}

/** Reads and checks the file; throws ConfigError listing every problem with the file, line and key. */
export function loadRunnerConfig(file: string, defaults: ProfileDefaults, cwd = process.cwd()): RunnerConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigError(
      [{ key: "(file)", message: describeFileFailure(error, "the file"), source: file }],
      "The runner configuration has mistakes:",
    );
  }
  const counter = new LineCounter();
  const document = parseDocument(text, { lineCounter: counter });
  if (document.errors.length > 0) {
    const error = document.errors[0]!;
    const line = error.linePos?.[0].line;
    throw new ConfigError(
      [{ key: "(file)", message: `not valid YAML: ${error.message.split("\n")[0]}`, source: line ? `${file}:${line}` : file }],
      "The runner configuration has mistakes:",
    );
  }
  const lineOf = lineFinder(document, counter);
  const problem = (segments: readonly PropertyKey[], message: string): ConfigProblem => {
    const line = lineOf(segments);
    return { key: keyOf(segments), message, source: line ? `${file}:${line}` : file };
  };

  const old = renameOldPriceKeys(document.toJS() ?? {});
  if (old.conflicts.length > 0)
    throw new ConfigError(
      old.conflicts.map(({ old: key, current }) => problem(["prices", key], `the old spelling of ${current}, which is set too: keep one`)),
      "The runner configuration has mistakes:",
    );
  const parsed = configSchema.safeParse(old.raw);
  if (!parsed.success) {
    // A problem under a renamed key is shown as the file spells it (and at its line).
    const spelledAs = new Map(old.deprecated.map(({ old: key, current }) => [current as PropertyKey, key]));
    const asWritten = (segments: readonly PropertyKey[]) =>
      segments[0] === "prices" && spelledAs.has(segments[1]!) ? ["prices", spelledAs.get(segments[1]!)!, ...segments.slice(2)] : segments;
    throw new ConfigError(
      parsed.error.issues.flatMap((issue) => {
        // Each unknown key is shown at its own line, named in the key path.
        if (issue.code === "unrecognized_keys") return issue.keys.map((key) => problem(asWritten([...issue.path, key]), "unknown key"));
        // A bad record key: zod wraps the key's own issue.
        if (issue.code === "invalid_key") return problem(asWritten(issue.path), issue.issues[0]?.message ?? issue.message);
        return problem(asWritten(issue.path), issue.message);
      }),
      "The runner configuration has mistakes:",
    );
  }

  const problems: ConfigProblem[] = [];
  const profiles: RunnerProfile[] = Object.entries(parsed.data.profiles).map(([name, profile]) => {
    const at = (key: string) => ["profiles", name, key];
    problems.push(...runtimeProblems(profile).map(([key, message]) => problem(at(key), message)));
    const docker = profile.docker === true ? "vm" : profile.docker === "gvisor" ? "gvisor" : undefined;
    let image = defaults.image;
    // A Docker profile without an image of its own gets the runner image with a Docker engine.
    if (docker && !profile.image) {
      try {
        image = parseDockerfile(readFileSync(DOCKER_DOCKERFILE, "utf8"), DOCKER_DOCKERFILE, defaults.buildArgs);
      } catch (error) {
        problems.push(problem(at("docker"), describeFailure(error).reason));
      }
    }
    if (profile.image && "from" in profile.image) image = { baseImage: profile.image.from, commands: profile.image.steps };
    if (profile.image && "dockerfile" in profile.image) {
      const dockerfile = path.resolve(cwd, profile.image.dockerfile);
      try {
        const read = parseDockerfile(readFileSync(dockerfile, "utf8"), dockerfile, defaults.buildArgs);
        image = { baseImage: read.baseImage, commands: [...read.commands, ...profile.image.steps] };
      } catch (error) {
        problems.push(problem(["profiles", name, "image", "dockerfile"], describeFileFailure(error, dockerfile)));
      }
    }
    const labels = [...new Set([...profile.labels, defaults.runnerLabel].map((entry) => entry.toLowerCase()))];
    return {
      name,
      labels,
      image,
      cpu: profile.cpu ?? defaults.cpu,
      memoryMiB: profile.memoryMiB ?? defaults.memoryMiB,
      gpu: profile.gpu,
      timeoutMs: profile.timeout ?? defaults.timeoutMs,
      regions: profile.regions,
      env: profile.env,
      secrets: profile.secrets,
      network: toNetwork(profile.network),
      sudo: profile.sudo,
      docker,
      runtime: docker === "vm" ? "vm" : profile.runtime,
      maxSandboxes: profile.maxSandboxes,
    };
  });
  for (const { profile, winner } of unreachable(profiles)) {
    const why =
      winner.labels.length < profile.labels.length ? "covers the same jobs with fewer labels" : "has the same labels and is listed first";
    problems.push(
      problem(
        ["profiles", profile.name, "labels"],
        `no job can reach this profile: profile "${winner.name}" ${why} [${winner.labels.join(", ")}]`,
      ),
    );
  }
  if (problems.length > 0) throw new ConfigError(problems, "The runner configuration has mistakes:");

  const { caps, prices } = parsed.data;
  const perProfile = Object.fromEntries(
    profiles.flatMap((profile) => (profile.maxSandboxes === undefined ? [] : [[profile.name, profile.maxSandboxes]])),
  );
  const result: Caps = {
    total: caps.total ?? defaults.caps?.total,
    perInstallation: caps.perInstallation ?? defaults.caps?.perInstallation,
    perRepository: caps.perRepository,
    perProfile,
  };
  const overrides: Prices = {
    ...(prices.cpuPerCoreSecond !== undefined && { cpuPerCoreSecond: prices.cpuPerCoreSecond }),
    ...(prices.memoryPerGiBSecond !== undefined && { memoryPerGiBSecond: prices.memoryPerGiBSecond }),
    ...(prices.gpuPerSecond && {
      gpuPerSecond: Object.fromEntries(Object.entries(prices.gpuPerSecond).map(([type, value]) => [type.toUpperCase(), value])),
    }),
  };
  const deprecations = old.deprecated.map(({ old: key, current }) => {
    const { source } = problem(["prices", key], "");
    return `${source}: prices.${key} is deprecated; write prices.${current}`;
  });
  return { profiles, caps: result, prices: overrides, ...(deprecations.length > 0 && { deprecations }) };
}
