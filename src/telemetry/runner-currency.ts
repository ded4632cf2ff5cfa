// Is the runner in our images current? GitHub asks that a new runner release be
// installed within 30 days and then refuses older runners; until then, an ephemeral
// runner that is behind downloads the update at every start. Pure: the pinned
// version, GitHub's latest release and the time in, a verdict out.
//
// The 30 days run from the first release after ours; the App reads only the latest
// release, whose date is that day or later, so the deadline shown is the latest it
// can be (an error a week before it leaves room for that).

const DAY_MS = 86_400_000;
/** GitHub's window for installing a new runner release. */
export const RUNNER_UPDATE_WINDOW_DAYS = 30;
/** The verdict becomes an error this many days before the window closes. */
export const RUNNER_DEADLINE_MARGIN_DAYS = 7;

export type RunnerCurrencyState = "current" | "behind" | "deadline" | "unknown";

export interface RunnerCurrency {
  state: RunnerCurrencyState;
  /** The runner version in the images the App builds. */
  image: string;
  latest?: string;
  /** ISO time the latest release was published, and the day GitHub's window closes. */
  latestPublishedAt?: string;
  deadline?: string;
}

/** Compares dotted versions numerically: negative when a is older. */
export function compareVersions(a: string, b: string): number {
  const left = a.split(".").map(Number);
  const right = b.split(".").map(Number);
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const diff = (left[i] ?? 0) - (right[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

export function runnerCurrency(image: string, latest: { version: string; publishedAt: number } | undefined, now: number): RunnerCurrency {
  if (!latest) return { state: "unknown", image };
  const known = { image, latest: latest.version, latestPublishedAt: new Date(latest.publishedAt).toISOString() };
  if (compareVersions(image, latest.version) >= 0) return { state: "current", ...known };
  const deadline = latest.publishedAt + RUNNER_UPDATE_WINDOW_DAYS * DAY_MS;
  const state = now >= deadline - RUNNER_DEADLINE_MARGIN_DAYS * DAY_MS ? "deadline" : "behind";
  return { state, ...known, deadline: new Date(deadline).toISOString() };
}

/** One sentence for the doctor and the status page. */
export function describeRunnerCurrency(currency: RunnerCurrency): string {
  switch (currency.state) {
    case "unknown":
      return `runner ${currency.image} in the image; GitHub's latest release is not known yet`;
    case "current":
      return `runner ${currency.image} is GitHub's latest release`;
    case "behind":
      return `runner ${currency.image} in the image, GitHub's latest is ${currency.latest} (published ${currency.latestPublishedAt?.slice(0, 10)}): every runner updates itself at start; GitHub's 30 days end by ${currency.deadline?.slice(0, 10)}`;
    case "deadline":
      return `runner ${currency.image} in the image, GitHub's latest is ${currency.latest} (published ${currency.latestPublishedAt?.slice(0, 10)}): GitHub's 30 days to update end by ${currency.deadline?.slice(0, 10)}, then it may refuse these runners`;
  }
}
