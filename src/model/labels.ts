// Runner labels. GitHub matches a job's `runs-on` labels with a runner's
// case-insensitively: the one home of that rule (which jobs are ours, which runner
// or profile fits a job) and of the message that says a label is missing.

/** Whether `labels` include `label`, in any case. */
export function hasLabel(labels: readonly string[], label: string): boolean {
  return labels.some((candidate) => candidate.toLowerCase() === label.toLowerCase());
}

/** Whether a runner offering `offered` satisfies every label in `wanted`. */
export function coversLabels(offered: readonly string[], wanted: readonly string[]): boolean {
  const have = new Set(offered.map((label) => label.toLowerCase()));
  return wanted.every((label) => have.has(label.toLowerCase()));
}

/** Why a job with `labels` is not for our runners (undefined: it asks for `runnerLabel`). */
export function missingLabel(labels: readonly string[], runnerLabel: string): string | undefined {
  return hasLabel(labels, runnerLabel) ? undefined : `labels [${labels.join(", ")}] do not include "${runnerLabel}"`;
}
