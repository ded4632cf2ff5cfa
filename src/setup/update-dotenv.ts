// Writes settings into `.env`, keeping every line that is already there (comments,
// other settings) and replacing only the lines of the names it writes. The file
// holds the App's private key and secrets, so it is readable by its owner only.
//
// One file for both readers: `npm start` (node's parseEnv, like Probot's dotenv) and
// `docker run --env-file .env`, which takes each line's value literally (no quote
// removal, no escapes). So values are written unquoted; the private key goes on one
// line with literal `\n` between its lines, which Probot's key reader
// (@probot/get-private-key) turns back into newlines.
import { chmodSync, writeFileSync } from "node:fs";
import { readTextIfPresent } from "../lib/read-text-file.js";

/** A value both parseEnv and Docker's --env-file read back unchanged when written unquoted. */
const UNQUOTED_SAFE = /^(?![\s'"`])[^\r\n#]*(?<!\s)$/;

/** One `NAME=value` line that node's parseEnv (and Probot's loadEnv) and Docker's --env-file read back alike. */
function line(name: string, value: string): string {
  // A PEM on one line: literal \n between its lines (Probot's key reader restores them).
  const oneLine = name === "PRIVATE_KEY" ? value.trim().replace(/\r?\n/g, "\\n") : value;
  if (UNQUOTED_SAFE.test(oneLine)) return `${name}=${oneLine}`;
  // Not expressible for both readers (a '#', surrounding spaces, a newline): quote it for
  // parseEnv; Docker users must then edit the line (DEPLOY.md says so).
  if (!/[\r\n]/.test(value) && !value.includes("'")) return `${name}='${value}'`;
  if (value.includes('"')) throw new Error(`${name}: cannot write a value with both a newline and a double quote to .env`);
  return `${name}="${value.replace(/\r?\n/g, "\\n")}"`;
}

export function updateDotenv(file: string, values: Record<string, string>): void {
  const existing = readTextIfPresent(file)?.split(/\r?\n/) ?? [];
  const names = new Set(Object.keys(values));
  // A quoted value may span lines (Probot writes PEMs that way): drop its continuation too.
  const kept: string[] = [];
  let skippingQuoted = false;
  for (const text of existing) {
    if (skippingQuoted) {
      if (/"\s*$/.test(text)) skippingQuoted = false;
      continue;
    }
    const name = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/.exec(text);
    if (name && names.has(name[1]!)) {
      const rest = name[2]!.trim();
      skippingQuoted = rest.startsWith('"') && (rest.length === 1 || !rest.endsWith('"'));
      continue;
    }
    kept.push(text);
  }
  while (kept.length > 0 && kept[kept.length - 1] === "") kept.pop();
  const lines = [...kept, ...Object.entries(values).map(([name, value]) => line(name, value))];
  writeFileSync(file, `${lines.join("\n")}\n`, { mode: 0o600 });
  chmodSync(file, 0o600); // writeFileSync's mode applies only to a new file
}
