// One error shape for every configuration mistake, whether it comes from the
// environment (settings) or from the runner configuration file: a list of problems,
// each naming the key that is wrong, and a message that lists them all at once.

export interface ConfigProblem {
  /** The setting or the key path in a file (`SANDBOX_CPU`, `profiles.gpu.cpu`). */
  key: string;
  message: string;
  /** Where the key was read, when it was a file: `path` or `path:line`. */
  source?: string;
}

/** One problem as a line a person reads: `source: key: message`, or `KEY is required: why`. */
export function formatProblem(problem: ConfigProblem): string {
  const where = problem.source ? `${problem.source}: ` : "";
  if (problem.message.startsWith("required"))
    return `${where}${problem.key} ${problem.key.includes(" and ") ? "are" : "is"} ${problem.message}`;
  return `${where}${problem.key}: ${problem.message}`;
}

export class ConfigError extends Error {
  override name = "ConfigError";

  constructor(
    readonly problems: ConfigProblem[],
    heading = "The App cannot start; fix these settings:",
  ) {
    super(`${heading}\n${problems.map((problem) => `  - ${formatProblem(problem)}`).join("\n")}`);
  }

  /** Every problem as one line. */
  get lines(): string[] {
    return this.problems.map(formatProblem);
  }
}
