// The house rules of src/, checked on every run: rooms (folders) are layered, and a
// room imports only from rooms below it (or itself). model/ and lib/ are the
// ground floor and import nothing from the project; the composition root (the
// files directly in src/) and the entry points sit on top. Beside the product, the
// workspace packages (packages/): the simulator imports nothing from the product,
// the demo drives the product (its built dist/) against the simulator, and the
// product imports neither.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

/** Lower floors first. Rooms on one floor may not import each other. */
const FLOORS: string[][] = [
  ["model", "lib"],
  // replicas/: what a fleet of replicas shares (Redis), below everything that shares it.
  ["runner-config", "replicas"],
  ["settings"],
  ["github", "modal"],
  ["policy", "telemetry"],
  ["dispatch", "reconcile"],
  ["webhooks", "http", "doctor"],
  ["(root)", "setup"],
  ["cli", "(entry)"],
];
/** Files directly in src/ that are entry points (run by npm scripts), above the composition root. */
const ENTRY_POINTS = new Set(["main.ts", "start.ts"]);
const floorOf = new Map(FLOORS.flatMap((rooms, floor) => rooms.map((room) => [room, floor] as const)));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(full) : entry.name.endsWith(".ts") ? [full] : [];
  });
}

const roomOf = (file: string) => {
  const parts = path.relative("src", file).split(path.sep);
  if (parts.length > 1) return parts[0]!;
  return ENTRY_POINTS.has(parts[0]!) ? "(entry)" : "(root)";
};

const imports = sourceFiles("src").flatMap((file) =>
  [...readFileSync(file, "utf8").matchAll(/^(?:import|export)[^;]*?from\s+"(\.[^"]+)"/gm)].map((match) => ({
    from: file,
    to: path.join(path.dirname(file), match[1]!.replace(/\.js$/, ".ts")),
  })),
);

test("every room of src/ is on a floor", () => {
  const rooms = new Set(sourceFiles("src").map(roomOf));
  expect([...rooms].filter((room) => !floorOf.has(room))).toEqual([]);
});

test("no room imports a room on its own floor or above it", () => {
  const upward = imports.flatMap(({ from, to }) => {
    const [a, b] = [roomOf(from), roomOf(to)];
    return a !== b && floorOf.get(b)! >= floorOf.get(a)! ? [`${from} → ${to} (${a} may not import ${b})`] : [];
  });
  expect(upward).toEqual([]);
});

test("model/ and lib/ import nothing from the project but each other's own files", () => {
  const leaves = imports.filter(({ from, to }) => ["model", "lib"].includes(roomOf(from)) && roomOf(to) !== roomOf(from));
  expect(leaves.map(({ from, to }) => `${from} → ${to}`)).toEqual([]);
});

test("a job enters the App only through app.on(...): src/index.ts is the one caller of the webhook handlers", () => {
  const callers = sourceFiles("src").filter((file) => /\.handle(WorkflowJob|Installation)\b/.test(readFileSync(file, "utf8")));
  expect(callers).toEqual([path.join("src", "index.ts")]);
  expect(readFileSync(path.join("src", "index.ts"), "utf8")).toMatch(/app\.on\(\["workflow_job\.queued"/);
});

/** Every module specifier a file imports or re-exports (type-only imports included). */
const specifiersOf = (file: string) =>
  [...readFileSync(file, "utf8").matchAll(/^(?:import|export)[^;]*?from\s+"([^"]+)"/gm)].map((match) => match[1]!);
const PACKAGES = path.join("packages");

test("the product imports no workspace package", () => {
  const found = sourceFiles("src").flatMap((file) =>
    specifiersOf(file)
      .filter(
        (to) =>
          to.startsWith("@modal-github-runner/") || (to.startsWith(".") && !path.join(path.dirname(file), to).startsWith("src" + path.sep)),
      )
      .map((to) => `${file} → ${to}`),
  );
  expect(found).toEqual([]);
});

test("the simulator imports nothing from the product nor the demo", () => {
  const root = path.join(PACKAGES, "simulator", "src");
  const found = sourceFiles(root).flatMap((file) =>
    specifiersOf(file)
      .filter(
        (to) =>
          to.startsWith("@modal-github-runner/") || (to.startsWith(".") && !path.join(path.dirname(file), to).startsWith(root + path.sep)),
      )
      .map((to) => `${file} → ${to}`),
  );
  expect(sourceFiles(root).length).toBeGreaterThan(10);
  expect(found).toEqual([]);
});

/**
 * What the demo may use of the product's built dist/: the server and the settings it
 * starts the App with, and ground-floor helpers (durations, flags). Not the App's
 * inner rooms: the demo drives the App from outside, as an operator would.
 */
const DEMO_MAY_USE = new Set(["(root)", "settings", "lib", "cli"]);

test("the demo imports the simulator by name and the product only from its built dist/, through its outer rooms", () => {
  const root = path.join(PACKAGES, "demo", "src");
  const found = sourceFiles(root).flatMap((file) =>
    specifiersOf(file)
      .filter((to) => {
        if (to.startsWith("@modal-github-runner/")) return !to.startsWith("@modal-github-runner/simulator/");
        if (!to.startsWith(".")) return false;
        const target = path.join(path.dirname(file), to);
        if (target.startsWith(root + path.sep)) return false;
        if (!target.startsWith("dist" + path.sep)) return true;
        return !DEMO_MAY_USE.has(roomOf(path.join("src", path.relative("dist", target))));
      })
      .map((to) => `${file} → ${to}`),
  );
  expect(found).toEqual([]);
});

/** The npm package a bare specifier names (`@scope/name/sub` → `@scope/name`); undefined for node: built-ins. */
const packageOf = (specifier: string) =>
  specifier.startsWith("node:")
    ? undefined
    : specifier
        .split("/")
        .slice(0, specifier.startsWith("@") ? 2 : 1)
        .join("/");

test.each(["simulator", "demo"])("the %s package declares every package it imports (none works only by hoisting)", (name) => {
  const manifest = JSON.parse(readFileSync(path.join(PACKAGES, name, "package.json"), "utf8")) as Record<string, Record<string, string>>;
  const declared = new Set(["dependencies", "peerDependencies", "devDependencies"].flatMap((field) => Object.keys(manifest[field] ?? {})));
  const root = path.join(PACKAGES, name, "src");
  const undeclared = sourceFiles(root).flatMap((file) =>
    specifiersOf(file)
      .filter((to) => !to.startsWith("."))
      .flatMap((to) => {
        const pkg = packageOf(to);
        return pkg === undefined || declared.has(pkg) ? [] : [`${file} → ${pkg}`];
      }),
  );
  expect(undeclared).toEqual([]);
});

test("tests reach the workspace packages by name (as the demo does), never by a path into packages/", () => {
  const found = sourceFiles("test").flatMap((file) =>
    specifiersOf(file)
      .filter((to) => to.startsWith(".") && path.join(path.dirname(file), to).startsWith(PACKAGES + path.sep))
      .map((to) => `${file} → ${to}`),
  );
  expect(found).toEqual([]);
});

test("assemble() builds each part before any line uses it: no forward references through closures", () => {
  const source = readFileSync(path.join("src", "assemble.ts"), "utf8");
  const body = source.slice(source.indexOf("export function assemble("));
  const lines = body.split("\n");
  // The parts: constants declared at the function's top level (two spaces in).
  const declared = lines.flatMap((line, index) => {
    const match = /^ {2}const (?:\{ ([^}]+) \}|(\w+)\b)/.exec(line);
    const names = match ? (match[1]?.split(",").map((name) => name.trim().split(":").pop()!.trim()) ?? [match[2]!]) : [];
    return names.map((name) => ({ name, index }));
  });
  expect(declared.length).toBeGreaterThan(10);
  const early = declared.flatMap(({ name, index }) => {
    const first = lines.findIndex((line) => new RegExp(`(?<![\\w.])${name}\\b`).test(line.replace(/"[^"]*"|\/\/.*$|\/\*\*.*\*\//g, "")));
    return first < index ? [`${name} (declared at line ${index + 1} of assemble, used at ${first + 1})`] : [];
  });
  expect(early).toEqual([]);
});
