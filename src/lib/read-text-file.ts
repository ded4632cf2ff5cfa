// Reading a file that may be absent (.env, app.yml, an operator's config or
// Dockerfile): "missing" is an expected answer, told apart from other failures in
// one place, never by sniffing an error's code at each reader.
import { readFileSync } from "node:fs";
import { describeFailure } from "./errors.js";

const isMissing = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code === "ENOENT";

/** The file's text, or undefined when there is no such file; any other failure (a directory, no permission) is thrown. */
export function readTextIfPresent(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

/** Why reading (or parsing) `file` failed, in the words a configuration problem needs. */
export function describeFileFailure(error: unknown, file: string): string {
  return isMissing(error) ? `${file} does not exist` : describeFailure(error).reason;
}
