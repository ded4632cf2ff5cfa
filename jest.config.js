// Jest runs in native ESM mode (Probot ships ESM only); @swc/jest strips types.
// Type checking is a separate step: `npm run typecheck`.
export default {
  testEnvironment: "node",
  roots: ["<rootDir>/test"],
  testMatch: ["**/*.test.ts"],
  extensionsToTreatAsEsm: [".ts"],
  moduleNameMapper: {
    // The workspace packages (packages/simulator, packages/demo) run from their
    // TypeScript source, as the product does; so does the product the demo imports
    // from the built dist/ (`../../../dist/…`).
    "^@modal-github-runner/(simulator|demo)/(.*)$": "<rootDir>/packages/$1/src/$2",
    "^(?:\\.\\./){3}dist/(.*)\\.js$": "<rootDir>/src/$1",
    "^(\\.{1,2}/.*)\\.js$": "$1",
  },
  transform: {
    "^.+\\.ts$": ["@swc/jest", { jsc: { parser: { syntax: "typescript" }, target: "es2022" }, module: { type: "es6" } }],
  },
  setupFiles: ["<rootDir>/test/setup-env.ts"],
  testTimeout: 30000,
  // Most suites wait on (local) network and timers as well as the CPU: on a 2-core machine
  // Jest's default (cores - 1 = one worker) leaves a core idle. Measured back to back on a
  // quiet machine, 3 workers ran the suite in 83 and 85 s (130 and 139 CPU-s), 2 workers
  // in 91 and 96 s (118 and 128 CPU-s); under heavy load from other processes the wall
  // times were alike and 2 workers cost about 11 % less CPU.
  maxWorkers: 3,
};
