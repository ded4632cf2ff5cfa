// Modal builds images from a registry image plus Dockerfile lines; it has no build
// context. A runner Dockerfile is therefore read as: FROM <image>, then the rest.
// The same rules check a profile's `image.steps` in the runner config.

import type { RunnerImageDefinition } from "../model/runner-profile.js";

const INSTRUCTIONS = new Set([
  "RUN",
  "ENV",
  "ARG",
  "WORKDIR",
  "USER",
  "LABEL",
  "SHELL",
  "EXPOSE",
  "VOLUME",
  "ENTRYPOINT",
  "CMD",
  "HEALTHCHECK",
  "STOPSIGNAL",
  "ONBUILD",
  "COPY",
  "ADD",
  "FROM",
  "MAINTAINER",
]);

/** What is wrong with one build step (an instruction after FROM), or undefined. */
export function stepProblem(step: string): string | undefined {
  if (/[\r\n]/.test(step)) return "one instruction per step: it contains a line break (write a list item per instruction, `&&` inside RUN)";
  const keyword = step.trim().split(/\s/)[0]!.toUpperCase();
  if (!INSTRUCTIONS.has(keyword)) return `"${step.trim().split(/\s/)[0]}" is not a Dockerfile instruction (RUN, ENV, WORKDIR, USER, …)`;
  if (keyword === "FROM") return "FROM is not a step: set the base image with image.from (multi-stage builds are not supported)";
  if ((keyword === "COPY" || keyword === "ADD") && !/^COPY\s+--from=/i.test(step.trim())) {
    return `"${keyword}" from a build context is not supported by Modal images; use RUN (curl, apt-get) or a pre-built base image`;
  }
  return undefined;
}

/** Replaces ${NAME} and $NAME by build arguments; names without a value are reported. */
function substitute(text: string, args: Record<string, string | undefined>, missing: string[]): string {
  return text.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (_match, braced: string | undefined, bare: string | undefined) => {
      const name = (braced ?? bare)!;
      const value = args[name];
      if (value === undefined || value === "") missing.push(name);
      return value ?? "";
    },
  );
}

/**
 * Reads a runner Dockerfile. `ARG NAME[=default]` lines before FROM may be used in
 * the FROM line (`${NAME}`); `buildArgs` gives their values, as `docker build
 * --build-arg` would (the App passes docker/runner/versions.env).
 */
export function parseDockerfile(text: string, source: string, buildArgs: Record<string, string> = {}): RunnerImageDefinition {
  const instructions = text
    .replace(/\\\r?\n/g, " ") // join line continuations
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  const args: Record<string, string | undefined> = {};
  let index = 0;
  for (; index < instructions.length; index++) {
    const arg = /^ARG\s+([A-Za-z_][A-Za-z0-9_]*)(?:=(\S*))?$/i.exec(instructions[index]!);
    if (!arg) break;
    args[arg[1]!] = buildArgs[arg[1]!] ?? arg[2];
  }
  const [first, ...rest] = instructions.slice(index);
  const from = first ? /^FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+\S+)?$/i.exec(first) : null;
  if (!from) throw new Error(`${source}: the first instruction must be FROM <image> (after optional ARG lines)`);
  const missing: string[] = [];
  const baseImage = substitute(from[1]!, args, missing);
  if (missing.length > 0)
    throw new Error(
      `${source}: FROM uses ${missing.map((name) => `\${${name}}`).join(", ")} with no value (declare it with ARG before FROM and give it a value)`,
    );
  if (rest.some((line) => /^FROM\s/i.test(line))) {
    throw new Error(`${source}: multi-stage builds are not supported; use a single FROM`);
  }
  for (const line of rest) {
    const problem = stepProblem(line);
    if (problem) throw new Error(`${source}: ${problem}`);
  }
  return { baseImage, commands: withStageArgs(rest, buildArgs) };
}

/**
 * `ARG NAME` after FROM brings a build argument into the stage, as in `docker build`.
 * Modal gets no build arguments, so the value is written where the steps use it as
 * `${NAME}`: the image's definition (and Modal's build cache key) then holds the
 * pinned version itself. Other `$` expressions are left to the shell.
 */
function withStageArgs(steps: string[], buildArgs: Record<string, string>): string[] {
  const inScope = new Map<string, string>();
  return steps.flatMap((step) => {
    const arg = /^ARG\s+([A-Za-z_][A-Za-z0-9_]*)(?:=(\S*))?$/i.exec(step);
    if (arg) {
      const value = buildArgs[arg[1]!];
      // An argument of the operator's own (no build value) stays for Modal's builder.
      if (value === undefined || value === "") return [step];
      inScope.set(arg[1]!, value);
      return [];
    }
    if (inScope.size === 0) return [step];
    return [step.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (match, name: string) => inScope.get(name) ?? match)];
  });
}
