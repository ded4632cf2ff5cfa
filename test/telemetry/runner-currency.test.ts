// When the runner in the images is current, behind, or close to GitHub's 30-day
// deadline: a pure verdict, tested as a table.
import { compareVersions, runnerCurrency } from "../../src/telemetry/runner-currency.js";

const DAY = 86_400_000;
const NOW = Date.parse("2026-11-30T12:00:00Z");
const release = (version: string, daysAgo: number) => ({ version, publishedAt: NOW - daysAgo * DAY });

test.each([
  ["2.334.0", "2.334.0", 0],
  ["2.334.0", "2.335.0", -1],
  ["2.335.0", "2.334.9", 1],
  ["2.99.0", "2.100.0", -1],
  ["3.0.0", "2.999.999", 1],
])("compareVersions(%s, %s) has the sign of %d", (a, b, sign) => {
  expect(Math.sign(compareVersions(a, b))).toBe(sign);
});

test.each([
  ["latest not known yet", "2.334.0", undefined, "unknown"],
  ["the image holds the latest", "2.334.0", release("2.334.0", 100), "current"],
  ["the image is newer than GitHub's latest (a release pulled back)", "2.335.0", release("2.334.0", 1), "current"],
  ["a release out today", "2.334.0", release("2.335.0", 0), "behind"],
  ["22 days after the release", "2.334.0", release("2.335.0", 22), "behind"],
  ["a week before the 30 days end", "2.334.0", release("2.335.0", 23), "deadline"],
  ["past the 30 days", "2.334.0", release("2.336.0", 45), "deadline"],
] as const)("%s: %s against %j is %s", (_case, image, latest, state) => {
  expect(runnerCurrency(image, latest, NOW).state).toBe(state);
});

test("a verdict behind names the deadline: 30 days after the latest release", () => {
  expect(runnerCurrency("2.334.0", release("2.335.0", 10), NOW)).toEqual({
    state: "behind",
    image: "2.334.0",
    latest: "2.335.0",
    latestPublishedAt: "2026-11-20T12:00:00.000Z",
    deadline: "2026-12-20T12:00:00.000Z",
  });
});
