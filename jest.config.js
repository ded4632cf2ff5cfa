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
  // One worker per core. Jest's default (cores - 1) leaves a core idle while suites wait
  // on (local) network and timers; a third worker on 2 cores cost 11% more CPU for the
  // whole suite (each file reloads the App's modules, and three workers contend for two
  // cores) with no shorter wall time: 174 and 166 CPU-s vs 157 and 148, interleaved runs.
  maxWorkers: "100%",
};
