// The README's settings table is the operator's reference: it must list every
// setting the App reads.
import { readFileSync } from "node:fs";
import { SETTINGS } from "../src/settings/settings-schema.js";

test("every setting has a row in the README's settings table", () => {
  const readme = readFileSync("README.md", "utf8");
  const missing = Object.keys(SETTINGS).filter((name) => !readme.includes(`| \`${name}\` |`));
  expect(missing).toEqual([]);
});
