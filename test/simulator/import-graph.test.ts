// What each entry point loads at start: the App (dist/main.js, the Docker image's
// command) never the simulator, and the demo never GitHub's OpenAPI description nor
// ajv (devDependencies the fake GitHub imports only when a test asks it to check
// traffic: `checkOpenApi`). Followed through static imports, as Node loads them: the
// workspace packages by name (@modal-github-runner/simulator/x is
// packages/simulator/src/x.ts) and the product the demo imports from its built dist/
// (dist/x.js is src/x.ts).
import { readFileSync } from "node:fs";
import path from "node:path";

const WORKSPACE = /^@modal-github-runner\/(simulator|demo)\/(.+)$/;

/** The source file behind an import of `target` from `file`, or undefined for a third-party package. */
function sourceOf(file: string, target: string): string | undefined {
  const workspace = WORKSPACE.exec(target);
  if (workspace) return path.join("packages", workspace[1]!, "src", `${workspace[2]!}.ts`);
  if (!target.startsWith(".")) return undefined;
  const resolved = path.join(path.dirname(file), target.replace(/\.js$/, ".ts"));
  return resolved.startsWith("dist" + path.sep) ? path.join("src", path.relative("dist", resolved)) : resolved;
}

/** Every file reached from `entry` by static imports, and the third-party packages each file imports. */
function staticGraph(entry: string): { files: Set<string>; packages: Map<string, Set<string>> } {
  const files = new Set<string>();
  const packages = new Map<string, Set<string>>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const text = readFileSync(file, "utf8");
    // `import … from "x"` and `export … from "x"`; `import type` is erased, `await import()` is not static.
    for (const match of text.matchAll(/^(import|export)(?!\s+type\s)[^;]*?from\s+"([^"]+)"/gm)) {
      const target = match[2]!;
      const source = sourceOf(file, target);
      if (source !== undefined) visit(source);
      else if (!target.startsWith("node:")) {
        const name = target.startsWith("@") ? target.split("/").slice(0, 2).join("/") : target.split("/")[0]!;
        packages.set(name, (packages.get(name) ?? new Set()).add(file));
      }
    }
  };
  visit(entry);
  return { files, packages };
}

/** The package.json that owns `file`: a workspace package's, or the root's. */
function manifestOf(file: string): {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
} {
  const parts = file.split(path.sep);
  const dir = parts[0] === "packages" ? path.join("packages", parts[1]!) : ".";
  return JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8"));
}

test.each(["src/main.ts", "src/index.ts"])("the App's entry point %s does not load the simulator", (entry) => {
  const { files, packages } = staticGraph(entry);
  expect([...files].filter((file) => !file.startsWith("src" + path.sep))).toEqual([]);
  expect([...packages.keys()].filter((name) => name.startsWith("@modal-github-runner/"))).toEqual([]);
});

test("the demo loads the simulator but not the OpenAPI description nor ajv", () => {
  const { files, packages } = staticGraph("packages/demo/src/main.ts");
  expect(files).toContain(path.join("packages", "simulator", "src", "fake-github.ts"));
  expect(files).toContain(path.join("src", "server.ts"));
  expect(files).not.toContain(path.join("packages", "simulator", "src", "github", "openapi.ts"));
  expect([...packages.keys()].filter((name) => ["@octokit/openapi", "ajv", "ajv-formats"].includes(name))).toEqual([]);
});

test("every package the demo loads is declared by the package.json of the file that imports it", () => {
  const { packages } = staticGraph("packages/demo/src/main.ts");
  const undeclared = [...packages].flatMap(([name, importers]) =>
    [...importers].flatMap((file) => {
      const { dependencies, devDependencies, peerDependencies } = manifestOf(file);
      // The product's own files may use only its production dependencies.
      const declared = file.startsWith("src" + path.sep)
        ? { ...dependencies }
        : { ...dependencies, ...devDependencies, ...peerDependencies };
      return name in declared ? [] : [`${file}: ${name}`];
    }),
  );
  expect(undeclared).toEqual([]);
});
