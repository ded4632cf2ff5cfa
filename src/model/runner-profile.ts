// A runner profile: what kind of sandbox serves the jobs whose labels it covers.

/** A runner image as Modal builds it: a registry image plus Dockerfile instructions. */
export interface RunnerImageDefinition {
  /** Registry reference of the base image (the FROM line). */
  baseImage: string;
  /** Every instruction after FROM, one string per instruction (continuations joined). */
  commands: string[];
}

export type NetworkPolicy =
  | { egress: "open" }
  | { egress: "none" }
  /** Only these destinations; everything else is blocked. */
  | { egress: "allowlist"; cidrs: string[]; domains: string[] };

/** Modal's sandbox runtimes: gVisor (Modal's default) or a VM with a real kernel (alpha, allowlisted workspaces). */
export type SandboxRuntime = "gvisor" | "vm";

export interface RunnerProfile {
  name: string;
  /** Lower-case; always includes RUNNER_LABEL. */
  labels: string[];
  image: RunnerImageDefinition;
  cpu: number;
  memoryMiB: number;
  /** Modal GPU spec, canonical upper case, e.g. "A10G" or "H100:2". */
  gpu: string | undefined;
  timeoutMs: number;
  regions: string[];
  env: Record<string, string>;
  /** Modal named secrets, injected as environment variables. */
  secrets: string[];
  network: NetworkPolicy;
  /** Whether the `runner` user keeps passwordless sudo (true, as on GitHub-hosted runners). */
  sudo: boolean;
  /**
   * Docker inside the sandbox: on the VM runtime ("vm", Modal's recommendation) or
   * on gVisor with Modal's `enable_docker` option ("gvisor"); undefined for none.
   */
  docker: SandboxRuntime | undefined;
  /** The runtime asked of Modal; undefined lets Modal pick (gVisor today). */
  runtime: SandboxRuntime | undefined;
  /** Sandboxes of this profile at once (all installations). */
  maxSandboxes: number | undefined;
}

/** Concurrency ceilings; absent means no limit. */
export interface Caps {
  total: number | undefined;
  perInstallation: number | undefined;
  perRepository: number | undefined;
  /** Sandboxes of each profile at once, all installations together (the operator's `maxSandboxes`). */
  perProfile: Record<string, number>;
  /** Sandboxes of each profile at once within one installation (an org's own policy file). */
  perInstallationProfile?: Record<string, number>;
}

/** The operator's overrides of Modal's per-second prices (USD), for cost figures. */
export interface Prices {
  cpuPerCoreSecond?: number;
  memoryPerGiBSecond?: number;
  /** By GPU type as `gpu` spells it (upper case), per GPU. */
  gpuPerSecond?: Record<string, number>;
}

export interface RunnerConfig {
  /** In the order the file lists them (ties in matching go to the first). */
  profiles: RunnerProfile[];
  caps: Caps;
  prices: Prices;
  /** Old spellings the file used, one line each (`file:line: … is deprecated; write …`): logged as warnings at start-up. */
  deprecations?: string[];
}
