// The simulator's cache of things slow to rebuild in every test file (GitHub's OpenAPI
// subset and its compiled validators, the webhook examples split by event, the App's
// RSA key): node_modules/.cache/fake-github of the project. Each file is written to a
// temp file and renamed into place, so concurrent Jest workers never read half a file;
// a read-only node_modules only costs the next process the slow path again.
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);

/** The cache directory: node_modules/.cache/fake-github beside the installed package whose package.json this is. */
export function fixtureCacheDir(packageJson: string): string {
  // <project>/node_modules/@scope/name/package.json → <project>/node_modules/.cache/fake-github
  return path.join(path.dirname(require.resolve(packageJson)), "..", "..", ".cache", "fake-github");
}

/** Writes `content` to `file` atomically; true when written, false when the cache cannot be written. */
export function writeCacheFile(file: string, content: string, mode?: number): boolean {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    fs.writeFileSync(tmp, content, mode === undefined ? undefined : { mode });
    fs.renameSync(tmp, file);
    return true;
  } catch {
    return false;
  }
}
