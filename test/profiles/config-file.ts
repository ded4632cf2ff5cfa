// Writes a runner configuration for a test and returns its path.
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

export function runnerConfigFile(yaml: string): string {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), "runner-config-")), "runner-config.yml");
  writeFileSync(file, yaml);
  return file;
}
