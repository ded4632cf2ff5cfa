// What a runner sandbox cost, estimated from its lifetime and the resources its
// profile requested. Modal bills sandboxes per second on the higher of requested and
// used resources; the App only knows what it requested, so this is a floor that is
// right for runners that stay within their request (the usual case). The prices are
// quoted second-hand from Modal's pricing page and change over time: the runner
// config can override any of them under `prices`.

export interface PriceTable {
  /** Dollars per physical core per second (Modal's `cpu` counts physical cores: 1 core = 2 vCPU). */
  cpuPerCoreSecond: number;
  /** Dollars per GiB of memory per second. */
  memoryPerGiBSecond: number;
  /** Dollars per GPU per second, by Modal's GPU type name (upper case). */
  gpuPerSecond: Record<string, number>;
}

/** The runner config's `prices` block: any field replaces the default. */
export interface PriceOverrides {
  cpuPerCoreSecond?: number;
  memoryPerGiBSecond?: number;
  gpuPerSecond?: Record<string, number>;
}

export const MODAL_PRICES: Readonly<PriceTable> = Object.freeze({
  cpuPerCoreSecond: 0.00003942,
  memoryPerGiBSecond: 0.00000672,
  gpuPerSecond: Object.freeze({
    T4: 0.000164,
    L4: 0.000222,
    A10: 0.000306,
    L40S: 0.000542,
    "A100-40GB": 0.000583,
    "A100-80GB": 0.000694,
    H100: 0.001097,
    H200: 0.001261,
    B200: 0.001736,
  }),
});

/** Names Modal accepts for the same GPU as a key of the table. */
const GPU_ALIASES: Record<string, string> = {
  A10G: "A10",
  A100: "A100-40GB", // Modal's plain "A100" is the 40 GB card
};

/** The defaults with the runner config's overrides applied (GPU names matched case-insensitively). */
export function priceTable(overrides: PriceOverrides = {}): PriceTable {
  const gpuPerSecond: Record<string, number> = { ...MODAL_PRICES.gpuPerSecond };
  for (const [name, price] of Object.entries(overrides.gpuPerSecond ?? {})) gpuPerSecond[gpuKey(name)] = price;
  return {
    cpuPerCoreSecond: overrides.cpuPerCoreSecond ?? MODAL_PRICES.cpuPerCoreSecond,
    memoryPerGiBSecond: overrides.memoryPerGiBSecond ?? MODAL_PRICES.memoryPerGiBSecond,
    gpuPerSecond,
  };
}

function gpuKey(type: string): string {
  // A trailing "!" asks Modal not to upgrade the card (e.g. "H100!"): same price.
  const upper = type.trim().toUpperCase().replace(/!$/, "");
  return GPU_ALIASES[upper] ?? upper;
}

/** The GPU a (checked, see runner-config/parse-gpu.ts) spec names, as prices are keyed, and how many: `"H100:2"` → `{ type: "H100", count: 2 }`; `"a100"` → `{ type: "A100-40GB", count: 1 }`. */
export function pricedGpu(spec: string): { type: string; count: number } {
  const [type = "", count] = spec.split(":");
  return { type: gpuKey(type), count: count === undefined ? 1 : Number(count) };
}

export interface SandboxUsage {
  /** How long the sandbox lived, from creation to its end. */
  lifetimeMs: number;
  /** Requested physical cores (the profile's `cpu`). */
  cpu: number;
  memoryMiB: number;
  /** The profile's GPU string, such as "L4" or "H100:2"; undefined for none. */
  gpu?: string | undefined;
  /**
   * Modal charges more for sandboxes pinned to regions (about 1.5x for a broad
   * region set, 1.75x for a narrow one). The caller knows the profile's regions and
   * passes the factor; 1 when the profile leaves the region to Modal.
   */
  regionMultiplier?: number;
}

export interface SandboxCost {
  dollars: number;
  /** Whole seconds billed: Modal rounds each sandbox's lifetime up to the second. */
  billedSeconds: number;
  /** Set when the profile's GPU has no price: its GPU part is then left out of `dollars`. */
  unpricedGpu?: string;
}

/**
 * Dollars per second of a sandbox with these resources: the formula behind both
 * `modal_runner_cost_dollars_total` and the receipt in every job's log (the App
 * passes this rate to the sandbox, which multiplies it by its whole seconds).
 */
export function pricePerSecond(
  usage: Omit<SandboxUsage, "lifetimeMs">,
  prices: PriceTable = priceTable(),
): { dollars: number; unpricedGpu?: string } {
  let perSecond = usage.cpu * prices.cpuPerCoreSecond + (usage.memoryMiB / 1024) * prices.memoryPerGiBSecond;
  let unpricedGpu: string | undefined;
  if (usage.gpu) {
    const { type, count } = pricedGpu(usage.gpu);
    const price = prices.gpuPerSecond[type];
    if (price === undefined || !Number.isFinite(count)) unpricedGpu = usage.gpu;
    else perSecond += count * price;
  }
  const dollars = perSecond * (usage.regionMultiplier ?? 1);
  return unpricedGpu === undefined ? { dollars } : { dollars, unpricedGpu };
}

/** What a profile reserves, as the cost formula reads it. */
export function profileUsage(profile: {
  cpu: number;
  memoryMiB: number;
  gpu: string | undefined;
  regions: string[];
}): Omit<SandboxUsage, "lifetimeMs"> {
  // Pinned regions cost more: about 1.5x (broad) to 1.75x (narrow); the estimate takes the lower.
  return { cpu: profile.cpu, memoryMiB: profile.memoryMiB, gpu: profile.gpu, regionMultiplier: profile.regions.length > 0 ? 1.5 : 1 };
}

export function sandboxCost(usage: SandboxUsage, prices: PriceTable = priceTable()): SandboxCost {
  const billedSeconds = Math.max(0, Math.ceil(usage.lifetimeMs / 1000));
  const rate = pricePerSecond(usage, prices);
  const dollars = billedSeconds * rate.dollars;
  return rate.unpricedGpu === undefined ? { dollars, billedSeconds } : { dollars, billedSeconds, unpricedGpu: rate.unpricedGpu };
}
