// Runner name = sandbox name = "<prefix>-<job id>-<attempt>". Deterministic, so
// that every replica and every redelivery asks GitHub and Modal for the same name
// and their uniqueness rules (409 / ALREADY_EXISTS) keep a job to one runner. The
// attempt number moves on only when the reconciler serves a job again because its
// runner was taken by another job.

export interface ParsedRunnerName {
  jobId: number;
  attempt: number;
}

export function runnerName(prefix: string, jobId: number, attempt = 0): string {
  return `${prefix}-${jobId}-${attempt}`;
}

/** The job and attempt of one of our runner names; undefined for any other name. */
export function parseRunnerName(prefix: string, name: string): ParsedRunnerName | undefined {
  if (!name.startsWith(`${prefix}-`)) return undefined;
  const match = /^(\d+)-(\d+)$/.exec(name.slice(prefix.length + 1));
  if (!match) return undefined;
  return { jobId: Number(match[1]), attempt: Number(match[2]) };
}
