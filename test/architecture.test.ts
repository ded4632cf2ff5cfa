// The house rules of src/, checked on every run: rooms (folders) are layered, and a
// room imports only from rooms below it (or itself). model/ and lib/ are the
// ground floor and import nothing from the project; the composition root (the
// files directly in src/) and the entry points sit on top.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

/** Lower floors first. Rooms on one floor may not import each other. */
const FLOORS: string[][] = [
  ["model", "lib"],
  // replicas/: what a fleet of replicas shares (Redis), below everything that shares it.
  ["config", "replicas"],
  ["settings"],
  ["github", "modal", "simulator"],
  ["policy", "observe"],
  ["dispatch", "reconcile"],
  ["webhooks", "http", "doctor"],
  ["(root)", "setup"],
  ["cli", "(entry)"],
  // The demo drives the whole App against the simulator and parses its flags like the CLIs.
  ["demo"],
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
