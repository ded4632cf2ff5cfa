// What the App ships: `npm ci --omit=dev` (the Docker image's install) and the image's
// own files. The simulator, the demo and GitHub's example payloads and REST
// description are test tooling; none of them may be reachable from the production
// install, and the Dockerfile copies none of them. Read from package-lock.json (what
// `npm ci` installs, exactly) rather than by installing, which takes a minute.
import { readFileSync } from "node:fs";

interface LockEntry {
  version?: string;
  dev?: boolean;
  link?: boolean;
  resolved?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  devDependencies?: Record<string, string>;
}

const lock = JSON.parse(readFileSync("package-lock.json", "utf8")) as { packages: Record<string, LockEntry> };
const manifest = JSON.parse(readFileSync("package.json", "utf8")) as {
  workspaces: string[];
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

/** Test tooling that must never be installed with the App. */
const TOOLING = ["@modal-github-runner/simulator", "@modal-github-runner/demo", "@octokit/webhooks-examples", "@octokit/openapi"];

/** Where Node finds `name` from the package installed at `from` ("" is the root): the nearest node_modules up the tree. */
function locate(name: string, from: string): string | undefined {
  for (let dir = from; ; dir = dir.includes("/node_modules/") ? dir.slice(0, dir.lastIndexOf("/node_modules/")) : "") {
    const candidate = `${dir === "" ? "" : `${dir}/`}node_modules/${name}`;
    if (candidate in lock.packages) return candidate;
    if (dir === "") return undefined;
  }
}

/** Every lockfile location an install without devDependencies reaches from the root, as package names. */
function productionClosure(): Set<string> {
  const names = new Set<string>();
  const seen = new Set<string>();
  const visit = (location: string) => {
    if (seen.has(location)) return;
    seen.add(location);
    const entry = lock.packages[location]!;
    if (entry.link === true) return visit(entry.resolved!);
    // npm installs peers too (but not optional ones); devDependencies are not installed with --omit=dev.
    const peers = Object.keys(entry.peerDependencies ?? {}).filter((name) => entry.peerDependenciesMeta?.[name]?.optional !== true);
    for (const name of [...Object.keys({ ...entry.dependencies, ...entry.optionalDependencies }), ...peers]) {
      names.add(name);
      const found = locate(name, location);
      if (found !== undefined) visit(found);
    }
  };
  visit("");
  return names;
}

test("no production path leads from the App to the simulator, the demo or GitHub's examples", () => {
  const closure = productionClosure();
  expect(closure.size).toBeGreaterThan(50); // the walk does reach Probot's tree
  expect(closure).toContain("modal");
  expect(TOOLING.filter((name) => closure.has(name))).toEqual([]);
});

test("npm marks GitHub's examples and REST description dev-only in the lockfile, so --omit=dev skips them", () => {
  const thirdParty = TOOLING.filter((name) => !name.startsWith("@modal-github-runner/"));
  const notDev = thirdParty.map((name) => `node_modules/${name}`).filter((location) => lock.packages[location]?.dev !== true);
  expect(notDev).toEqual([]);
});

test("each workspace package is a devDependency of the root, never a dependency", () => {
  const names = manifest.workspaces.map((dir) => (JSON.parse(readFileSync(`${dir}/package.json`, "utf8")) as { name: string }).name);
  expect(names.sort()).toEqual(["@modal-github-runner/demo", "@modal-github-runner/simulator"]);
  expect(names.filter((name) => !(name in manifest.devDependencies) || name in manifest.dependencies)).toEqual([]);
});

test("the workspace packages keep their third-party modules as devDependencies", () => {
  const offenders = manifest.workspaces.flatMap((dir) => {
    const pkg = JSON.parse(readFileSync(`${dir}/package.json`, "utf8")) as { dependencies?: Record<string, string> };
    return Object.keys(pkg.dependencies ?? {}).map((name) => `${dir}: ${name}`);
  });
  expect(offenders).toEqual([]);
});

test("the production image copies neither packages/ nor the simulator", () => {
  const dockerfile = readFileSync("docker/Dockerfile", "utf8");
  const sources = [...dockerfile.matchAll(/^COPY\s+(?!--from)(.+)$/gm)].flatMap((match) => match[1]!.trim().split(/\s+/).slice(0, -1));
  expect(sources).toContain("src");
  expect(sources.filter((source) => source === "." || source.startsWith("packages") || /simulator|demo/.test(source))).toEqual([]);
  // npm 11 links every workspace whose folder exists, --omit=dev or not; --workspaces=false does not.
  const installs = [...dockerfile.matchAll(/^RUN npm ci (.*)$/gm)].map((match) => match[1]!);
  expect(installs.filter((flags) => flags.includes("--omit=dev") && flags.includes("--workspaces=false"))).toHaveLength(1);
  // The image builds dist/ from tsconfig.build.json, which compiles src/ only.
  const build = JSON.parse(readFileSync("tsconfig.build.json", "utf8")) as { include: string[] };
  expect(build.include).toEqual(["src"]);
});
