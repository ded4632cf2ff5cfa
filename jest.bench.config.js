// `npm run bench`: the benchmarks, one at a time (they measure latency), with the
// same ESM + swc set-up as the tests.
import base from "./jest.config.js";

export default {
  ...base,
  roots: ["<rootDir>/bench"],
  testMatch: ["**/*.bench.ts"],
  maxWorkers: 1,
  testTimeout: 300_000,
};
