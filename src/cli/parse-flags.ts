// Command-line flags for the App's small CLIs (`npm run reconcile`, doctor, demo):
// declared once with a sentence each, so the usage line is generated, `--help`
// prints it, and a mistake (unknown flag, stray argument, missing value) prints it
// with the reason and exits 2, the shell convention for bad usage, instead of a
// stack trace.
import { parseArgs } from "node:util";
import { closestName } from "../settings/closest-name.js";
import { describeFailure } from "../lib/errors.js";

export interface FlagSpec {
  type: "boolean" | "string";
  description: string;
  /** For string flags: what to write after it in the usage (`<path>`). */
  value?: string;
}

export interface CommandSpec {
  /** How the command is started, e.g. "npm run reconcile --". */
  command: string;
  flags: Record<string, FlagSpec>;
}

export type FlagValues<S extends CommandSpec> = {
  [K in keyof S["flags"]]: S["flags"][K]["type"] extends "boolean" ? boolean : string | undefined;
};

/** The flags, a request for help, or why the command line is wrong (three outcomes: a `kind` tag, see lib/result.ts). */
export type ParsedFlags<S extends CommandSpec> =
  { kind: "values"; values: FlagValues<S> } | { kind: "help"; help: string } | { kind: "error"; error: string; usage: string };

export function usage(spec: CommandSpec): string {
  const entries = Object.entries({ ...spec.flags, help: { type: "boolean", description: "print this help" } as FlagSpec });
  const synopsis = entries.map(([name, flag]) => `[--${name}${flag.type === "string" ? ` ${flag.value ?? "<value>"}` : ""}]`).join(" ");
  const width = Math.max(
    ...entries.map(([name, flag]) => name.length + (flag.type === "string" ? (flag.value ?? "<value>").length + 1 : 0)),
  );
  const lines = entries.map(
    ([name, flag]) => `  --${`${name}${flag.type === "string" ? ` ${flag.value ?? "<value>"}` : ""}`.padEnd(width)}  ${flag.description}`,
  );
  return [`Usage: ${spec.command} ${synopsis}`, ...lines].join("\n");
}

export function parseFlags<S extends CommandSpec>(argv: string[], spec: S): ParsedFlags<S> {
  const options = Object.fromEntries(Object.entries(spec.flags).map(([name, flag]) => [name, { type: flag.type }]));
  try {
    const { values } = parseArgs({ args: argv, options: { ...options, help: { type: "boolean" } }, strict: true, allowPositionals: false });
    if (values.help) return { kind: "help", help: usage(spec) };
    const given = values as Record<string, string | boolean | undefined>;
    const filled = Object.fromEntries(
      Object.entries(spec.flags).map(([name, flag]) => [name, given[name] ?? (flag.type === "boolean" ? false : undefined)]),
    );
    return { kind: "values", values: filled as FlagValues<S> };
  } catch (error) {
    let reason = describeFailure(error).reason.split("\n")[0]!;
    const unknown = /Unknown option '(-{1,2}[^']+)'/.exec(reason)?.[1];
    if (unknown) {
      const suggestion = closestName(unknown.replace(/^-+/, ""), Object.keys(spec.flags));
      reason = `unknown flag ${unknown}${suggestion ? `; did you mean --${suggestion}?` : ""}`;
    }
    return { kind: "error", error: reason, usage: usage(spec) };
  }
}

/** For a CLI's entry point: the flags, or the usage printed and the process ended (0 for --help, 2 for a mistake). */
export function flagsOrExit<S extends CommandSpec>(argv: string[], spec: S): FlagValues<S> {
  const parsed = parseFlags(argv, spec);
  if (parsed.kind === "values") return parsed.values;
  if (parsed.kind === "help") {
    console.log(parsed.help);
    process.exit(0);
  }
  console.error(`${parsed.error}\n${parsed.usage}`);
  process.exit(2);
}
