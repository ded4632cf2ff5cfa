// The documentation a newcomer reads: a README of about 200 lines, the runner-config
// example in one place only (examples/), and links between the documents that lead
// somewhere.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";

const DOCS = [
  "README.md",
  "DEPLOY.md",
  ...readdirSync("docs")
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];
/** Documents other parts of the work write (linked before they exist). */
const WRITTEN_ELSEWHERE = new Set([
  "docs/scaling.md",
  "docs/probot-modes.md",
  "docs/security.md",
  "docs/reconciler.md",
  "docs/dispatch.md",
  "docs/docker.md",
  "docs/runner-image.md",
]);

test("the README reads in five minutes: at most about 200 lines", () => {
  expect(readFileSync("README.md", "utf8").split("\n").length).toBeLessThanOrEqual(200);
});

test("the runner-config example lives in examples/ only; the documents link to it", () => {
  const example = readFileSync("examples/runner-config.yml", "utf8");
  // A run of its lines long enough that no document quotes it by chance.
  const profiles = example.slice(example.indexOf("profiles:"), example.indexOf("profiles:") + 400);
  for (const doc of DOCS) expect([doc, readFileSync(doc, "utf8").includes(profiles)]).toEqual([doc, false]);
  expect(DOCS.filter((doc) => readFileSync(doc, "utf8").includes("examples/runner-config.yml"))).toEqual(
    expect.arrayContaining(["README.md", "DEPLOY.md", "docs/configuration.md"]),
  );
});

test("every relative link between the documents leads to a file", () => {
  const broken = DOCS.flatMap((doc) =>
    [...readFileSync(doc, "utf8").matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)]
      .map((match) => match[1]!)
      .filter((target) => !/^[a-z]+:/.test(target))
      .map((target) => path.normalize(path.join(path.dirname(doc), target)))
      .filter((target) => !existsSync(target) && !WRITTEN_ELSEWHERE.has(target))
      .map((target) => `${doc} → ${target}`),
  );
  expect(broken).toEqual([]);
});
