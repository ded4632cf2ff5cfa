// CLI flags: declared once, usage generated, every mistake answered with the usage
// and exit code 2 rather than a stack trace.
import { spawnSync } from "node:child_process";
import { parseFlags, usage } from "../../src/cli/parse-flags.js";

const spec = {
  command: "npm run example --",
  flags: {
    full: { type: "boolean", description: "sweep everything" },
    config: { type: "string", value: "<path>", description: "a file to read" },
  },
} as const;

test("flags are read, with defaults for those not given", () => {
  expect(parseFlags(["--full", "--config", "x.yml"], spec)).toEqual({ kind: "values", values: { full: true, config: "x.yml" } });
  expect(parseFlags([], spec)).toEqual({ kind: "values", values: { full: false, config: undefined } });
});

test("the usage lists every flag with its sentence", () => {
  expect(usage(spec)).toBe(
    [
      "Usage: npm run example -- [--full] [--config <path>] [--help]",
      "  --full           sweep everything",
      "  --config <path>  a file to read",
      "  --help           print this help",
    ].join("\n"),
  );
  expect(parseFlags(["--help"], spec)).toEqual({ kind: "help", help: usage(spec) });
});

test.each([
  [["--fulll"], "unknown flag --fulll; did you mean --full?"],
  [["--verbose"], "unknown flag --verbose"],
  [["extra"], expect.stringMatching(/positional argument/i)],
  [["--config"], expect.stringMatching(/argument missing/i)],
])("%j is a usage error", (argv, reason) => {
  expect(parseFlags(argv, spec)).toEqual({ kind: "error", error: reason, usage: usage(spec) });
});

// The built CLI (npm run build): a wrong flag prints the usage and exits 2, before any setting is read.
test("`npm run reconcile -- --fulll` prints the usage and exits 2 without a stack trace", () => {
  const result = spawnSync(process.execPath, ["dist/cli/reconcile.js", "--fulll"], { encoding: "utf8", env: { PATH: process.env.PATH } });
  expect(result.status).toBe(2);
  expect(result.stderr).toContain("unknown flag --fulll; did you mean --full?");
  expect(result.stderr).toContain("Usage: npm run reconcile -- [--full] [--help]");
  expect(result.stderr).not.toMatch(/\n\s+at /);
});
