// A first `npm ci` is quiet and the production image carries only what the App runs:
// every package the lock file installs accepts the Node versions the README
// documents (no EBADENGINE warning), and the simulator's 9 MB of example payloads
// (@octokit/webhooks-examples) is the simulator package's development dependency, which no
// production module imports (only the simulator and the demo, which tests and `npm run demo` run).
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

// npm's own range logic (semver ships with npm and jest), so the test agrees with npm's warning.
const semver = createRequire(import.meta.url)("semver") as { satisfies(version: string, range: string): boolean };
const pkg = JSON.parse(readFileSync("package.json", "utf8")) as {
  engines: { node: string };
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const lock = JSON.parse(readFileSync("package-lock.json", "utf8")) as {
  packages: Record<string, { dev?: boolean; engines?: { node?: string } | string[] }>;
};

/** The Node versions the README and package.json promise: the lowest 20 and 22 we accept. */
const DOCUMENTED_NODE = ["20.19.0", "22.13.0"];

test.each(DOCUMENTED_NODE)("every installed package accepts Node %s (npm ci prints no EBADENGINE)", (version) => {
  expect(semver.satisfies(version, pkg.engines.node)).toBe(true);
  const refusing = Object.entries(lock.packages).flatMap(([name, entry]) => {
    const range = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
    return name !== "" && range && !semver.satisfies(version, range) ? [`${name} (node ${range})`] : [];
  });
  expect(refusing).toEqual([]);
});

const sourceFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(full) : entry.name.endsWith(".ts") ? [full] : [];
  });

test("the simulator's example payloads are the simulator's development dependency, imported by no production module", () => {
  expect(pkg.dependencies["@octokit/webhooks-examples"]).toBeUndefined();
  const simulator = JSON.parse(readFileSync("packages/simulator/package.json", "utf8")) as { devDependencies: Record<string, string> };
  expect(simulator.devDependencies["@octokit/webhooks-examples"]).toBeDefined();
  const offenders = sourceFiles("src").filter((file) =>
    /from\s+"(@octokit\/webhooks-examples|@modal-github-runner\/)/.test(readFileSync(file, "utf8")),
  );
  expect(offenders).toEqual([]);
});
