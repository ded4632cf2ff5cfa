// Reads `<cwd>/.env` into the environment the way Probot's `run()` does (its own
// `applyEnv` is applied only by `run()`, which this App does not use), with one
// difference: a variable already set in the environment wins, so a container's
// or a shell's settings override a stale file. Every entry point calls this first:
// `npm start`, `npm run reconcile`, `npm run doctor`.
import { readTextIfPresent } from "../lib/read-text-file.js";
import path from "node:path";
import { parseEnv } from "node:util";

/** Applies `<cwd>/.env` to `env` (missing file: nothing); returns the names it set. */
export function loadDotenv(
  cwd: string = process.cwd(),
  env: NodeJS.ProcessEnv | Record<string, string | undefined> = process.env,
): string[] {
  const text = readTextIfPresent(path.join(cwd, ".env"));
  if (text === undefined) return [];
  const applied: string[] = [];
  for (const [name, value] of Object.entries(parseEnv(text))) {
    if (env[name] !== undefined && env[name] !== "") continue;
    env[name] = value;
    applied.push(name);
  }
  return applied;
}
