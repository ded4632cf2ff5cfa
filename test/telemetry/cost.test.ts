import { MODAL_PRICES, pricedGpu, priceTable, sandboxCost } from "../../src/telemetry/cost.js";

const CPU = 0.00003942;
const MEM = 0.00000672;

test.each([
  // [what, usage, expected dollars, billed seconds]
  ["one core, 1 GiB for a minute", { lifetimeMs: 60_000, cpu: 1, memoryMiB: 1024 }, 60 * (CPU + MEM), 60],
  ["a partial second is billed as a whole one", { lifetimeMs: 1_001, cpu: 1, memoryMiB: 1024 }, 2 * (CPU + MEM), 2],
  ["half a core, 512 MiB", { lifetimeMs: 10_000, cpu: 0.5, memoryMiB: 512 }, 10 * (0.5 * CPU + 0.5 * MEM), 10],
  ["a GPU adds its own price", { lifetimeMs: 1_000, cpu: 2, memoryMiB: 2048, gpu: "L4" }, 2 * CPU + 2 * MEM + 0.000222, 1],
  ["H100:2 counts two cards", { lifetimeMs: 1_000, cpu: 1, memoryMiB: 1024, gpu: "H100:2" }, CPU + MEM + 2 * 0.001097, 1],
  ["plain A100 is the 40 GB card", { lifetimeMs: 1_000, cpu: 0, memoryMiB: 0, gpu: "A100" }, 0.000583, 1],
  ["A100-80GB, lower case", { lifetimeMs: 1_000, cpu: 0, memoryMiB: 0, gpu: "a100-80gb" }, 0.000694, 1],
  ["A10G is the A10", { lifetimeMs: 1_000, cpu: 0, memoryMiB: 0, gpu: "A10G" }, 0.000306, 1],
  ["region pinning multiplies", { lifetimeMs: 1_000, cpu: 1, memoryMiB: 1024, regionMultiplier: 1.5 }, 1.5 * (CPU + MEM), 1],
  ["no lifetime, no cost", { lifetimeMs: 0, cpu: 4, memoryMiB: 8192 }, 0, 0],
])("%s", (_what, usage, dollars, billedSeconds) => {
  const cost = sandboxCost(usage);
  expect(cost.billedSeconds).toBe(billedSeconds);
  expect(cost.dollars).toBeCloseTo(dollars, 12);
  expect(cost.unpricedGpu).toBeUndefined();
});

test("an unknown GPU is reported and left out of the sum, not guessed", () => {
  const cost = sandboxCost({ lifetimeMs: 1_000, cpu: 1, memoryMiB: 1024, gpu: "X9000" });
  expect(cost.unpricedGpu).toBe("X9000");
  expect(cost.dollars).toBeCloseTo(CPU + MEM, 12);
});

test("the runner config's prices override the defaults, GPU names matched in any case", () => {
  const prices = priceTable({ cpuPerCoreSecond: 1, gpuPerSecond: { h100: 10, X9000: 100 } });
  expect(prices.memoryPerGiBSecond).toBe(MEM);
  expect(prices.gpuPerSecond.T4).toBe(0.000164);
  expect(sandboxCost({ lifetimeMs: 2_000, cpu: 1, memoryMiB: 0, gpu: "H100" }, prices).dollars).toBeCloseTo(22, 9);
  expect(sandboxCost({ lifetimeMs: 1_000, cpu: 0, memoryMiB: 0, gpu: "x9000:3" }, prices).dollars).toBeCloseTo(300, 9);
  // The default table is not changed by an override.
  expect(MODAL_PRICES.cpuPerCoreSecond).toBe(CPU);
  expect(MODAL_PRICES.gpuPerSecond.H100).toBe(0.001097);
});

test("GPU strings parse into type and count", () => {
  expect(pricedGpu("H100:2")).toEqual({ type: "H100", count: 2 });
  expect(pricedGpu("t4")).toEqual({ type: "T4", count: 1 });
  expect(pricedGpu("H100!")).toEqual({ type: "H100", count: 1 });
});
