// What each entry point loads at start: the App (dist/main.js, the Docker image's
// command) never the simulator, and the demo never GitHub's OpenAPI description nor
// ajv (devDependencies the fake GitHub imports only when a test asks it to check
// traffic: `checkOpenApi`). Followed through static imports, as Node loads them.
import { readFileSync } from "node:fs";
import path from "node:path";

/** Every file reached from `entry` by static imports, and the packages they import. */
function staticGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const text = readFileSync(file, "utf8");
    // `import … from "x"` and `export … from "x"`; `import type` is erased, `await import()` is not static.
    for (const match of text.matchAll(/^(import|export)(?!\s+type\s)[^;]*?from\s+"([^"]+)"/gm)) {
      const target = match[2]!;
      if (target.startsWith(".")) visit(path.join(path.dirname(file), target.replace(/\.js$/, ".ts")));
      else packages.add(target.startsWith("@") ? target.split("/").slice(0, 2).join("/") : target.split("/")[0]!);
    }
  };
  visit(entry);
  return { files, packages };
}

test.each(["src/main.ts", "src/index.ts"])("the App's entry point %s does not load the simulator", (entry) => {
  const { files } = staticGraph(entry);
  expect([...files].filter((file) => file.startsWith(path.join("src", "simulator")) || file.startsWith(path.join("src", "demo")))).toEqual(
    [],
  );
});

test("the demo loads the simulator but not the OpenAPI description nor ajv", () => {
  const { files, packages } = staticGraph("src/demo/main.ts");
  expect(files).toContain(path.join("src", "simulator", "fake-github.ts"));
  expect(files).not.toContain(path.join("src", "simulator", "github", "openapi.ts"));
  expect([...packages].filter((name) => ["@octokit/openapi", "ajv", "ajv-formats"].includes(name))).toEqual([]);
});

test("every package the demo loads is a production dependency", () => {
  const { packages } = staticGraph("src/demo/main.ts");
  const { dependencies } = JSON.parse(readFileSync("package.json", "utf8")) as { dependencies: Record<string, string> };
  const builtIn = (name: string) => name.startsWith("node:");
  expect([...packages].filter((name) => !builtIn(name) && !(name in dependencies))).toEqual([]);
});
