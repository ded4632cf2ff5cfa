// The settings table (docs/configuration.md) is the operator's reference: it must list every
// setting the App reads, and say which commands read it, as the schema does.
import { readFileSync } from "node:fs";
import { readBy, SETTINGS, type SettingName } from "../src/settings/settings-schema.js";

// The table lives in the configuration reference (the README links to it).
const readme = readFileSync("docs/configuration.md", "utf8");
const rowOf = (name: string) => readme.split("\n").find((line) => line.startsWith(`| \`${name}\` |`));

test("every setting has a row in the README's settings table", () => {
  const missing = Object.keys(SETTINGS).filter((name) => !rowOf(name));
  expect(missing).toEqual([]);
});

test("each row says which commands read the setting, as the schema does", () => {
  const wrong = (Object.keys(SETTINGS) as SettingName[]).flatMap((name) => {
    const cells =
      rowOf(name)
        ?.split("|")
        .map((cell) => cell.trim()) ?? [];
    return cells[4] === readBy(name) ? [] : [`${name}: README says "${cells[4]}", schema says "${readBy(name)}"`];
  });
  expect(wrong).toEqual([]);
});
