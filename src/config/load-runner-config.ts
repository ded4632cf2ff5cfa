// The operator's runner configuration (RUNNER_CONFIG): runner profiles and caps, in
// YAML, checked at start-up. Every problem names the file, the key and what is
// wrong. Without a file, one default profile serves RUNNER_LABEL with the SANDBOX_*
// settings and the RUNNER_DOCKERFILE image.
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { z } from "zod";
import { parseDockerfile, type RunnerImageDefinition } from "../modal/parse-dockerfile.js";
import { sandboxLifetime } from "../settings/duration.js";
import type { Caps, NetworkPolicy, RunnerConfig, RunnerProfile } from "./runner-profile.js";

const label = z.string().regex(/^[^\s,]+$/, "a label has no spaces or commas");
const cap = z.number().int().min(0);
const CIDR = /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$|^[0-9a-f:]+\/\d{1,3}$/i;
const DOMAIN = /^(\*\.)?([a-z0-9-]+\.)+[a-z]{2,}$/i;

const imageSchema = z.union([
  z.strictObject({ from: z.string().min(1), steps: z.array(z.string()).default([]) }),
  z.strictObject({ dockerfile: z.string().min(1) }),
]);

const networkSchema = z
  .strictObject({ egress: z.enum(["open", "none", "allowlist"]), allow: z.array(z.string()).default([]) })
  .superRefine((network, ctx) => {
    if (network.egress === "allowlist" && network.allow.length === 0) ctx.addIssue({ code: "custom", path: ["allow"], message: "egress allowlist needs at least one domain or CIDR" });
    if (network.egress !== "allowlist" && network.allow.length > 0) ctx.addIssue({ code: "custom", path: ["allow"], message: `only used with egress: allowlist` });
    network.allow.forEach((entry, index) => {
      if (!CIDR.test(entry) && !DOMAIN.test(entry)) ctx.addIssue({ code: "custom", path: ["allow", index], message: `"${entry}" is neither a domain (example.com, *.example.com) nor a CIDR (10.0.0.0/8)` });
    });
  });

const profileSchema = z.strictObject({
  labels: z.array(label).min(1),
  image: imageSchema.optional(),
  cpu: z.number().positive().optional(),
  memoryMiB: z.number().int().positive().optional(),
  gpu: z.string().regex(/^[A-Za-z0-9-]+(:\d+)?$/, 'a GPU type such as "A10G" or "H100:2"').optional(),
  timeout: sandboxLifetime().optional(),
  regions: z.array(z.string().min(1)).default([]),
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "an environment variable name"), z.string()).default({}),
  secrets: z.array(z.string().regex(/^[A-Za-z0-9._-]{1,63}$/, "a Modal secret name")).default([]),
  network: networkSchema.default({ egress: "open", allow: [] }),
  maxSandboxes: cap.optional(),
});

const configSchema = z.strictObject({
  caps: z.strictObject({ total: cap.optional(), perInstallation: cap.optional(), perRepository: cap.optional() }).default({}),
  profiles: z.record(z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, "a profile name (letters, digits, '-', '_')"), profileSchema).refine((profiles) => Object.keys(profiles).length > 0, "define at least one profile"),
});

export interface ProfileDefaults {
  runnerLabel: string;
  image: RunnerImageDefinition;
  cpu: number;
  memoryMiB: number;
  timeoutMs: number;
}

export class RunnerConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
    this.name = "RunnerConfigError";
  }
}

function toNetwork(network: z.infer<typeof networkSchema>): NetworkPolicy {
  if (network.egress !== "allowlist") return { egress: network.egress };
  return { egress: "allowlist", cidrs: network.allow.filter((entry) => CIDR.test(entry)), domains: network.allow.filter((entry) => !CIDR.test(entry)) };
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
        maxSandboxes: undefined,
      },
    ],
    caps: { total: undefined, perInstallation: undefined, perRepository: undefined, perProfile: {} },
  };
}

/** Reads and checks the file; throws RunnerConfigError listing every problem as "<file>: <key>: <problem>". */
export function loadRunnerConfig(file: string, defaults: ProfileDefaults, cwd = process.cwd()): RunnerConfig {
  let raw: unknown;
  try {
    raw = parse(readFileSync(file, "utf8"));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "the file does not exist" : `not valid YAML: ${(error as Error).message.split("\n")[0]}`;
    throw new RunnerConfigError([`${file}: ${reason}`]);
  }
  const parsed = configSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    throw new RunnerConfigError(parsed.error.issues.map((issue) => `${file}: ${issue.path.join(".") || "(top level)"}: ${issue.message}`));
  }

  const problems: string[] = [];
  const profiles: RunnerProfile[] = Object.entries(parsed.data.profiles).map(([name, profile]) => {
    let image = defaults.image;
    if (profile.image && "from" in profile.image) image = { baseImage: profile.image.from, commands: profile.image.steps };
    if (profile.image && "dockerfile" in profile.image) {
      const dockerfile = path.resolve(cwd, profile.image.dockerfile);
      try {
        image = parseDockerfile(readFileSync(dockerfile, "utf8"), dockerfile);
      } catch (error) {
        const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? `${dockerfile} does not exist` : (error as Error).message;
        problems.push(`${file}: profiles.${name}.image.dockerfile: ${reason}`);
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
      maxSandboxes: profile.maxSandboxes,
    };
  });
  if (problems.length > 0) throw new RunnerConfigError(problems);

  const { caps } = parsed.data;
  const perProfile = Object.fromEntries(profiles.flatMap((profile) => (profile.maxSandboxes === undefined ? [] : [[profile.name, profile.maxSandboxes]])));
  const result: Caps = { total: caps.total, perInstallation: caps.perInstallation, perRepository: caps.perRepository, perProfile };
  return { profiles, caps: result };
}
