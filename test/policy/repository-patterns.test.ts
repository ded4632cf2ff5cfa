// Repository patterns come from operators and from anyone who can push a policy file:
// the matcher is a table of cases, and a hostile pattern costs microseconds.
import {
  globMatches,
  matchesAny,
  matchesPattern,
  MAX_PATTERN_LENGTH,
  MAX_PATTERNS,
  patternListProblem,
} from "../../src/model/repository-patterns.js";
import { orgPolicySchema } from "../../src/policy/org-policy.js";
import { loadSettings } from "../../src/settings/load-settings.js";

test.each([
  // pattern, full name, matches
  ["octo-org", "octo-org/app", true],
  ["octo-org", "other/app", false],
  ["OCTO-ORG", "octo-org/App", true],
  ["octo-org/app", "octo-org/app", true],
  ["octo-org/app", "octo-org/app2", false],
  ["octo-org/app", "octo-org/ap", false],
  ["octo-org/svc-*", "octo-org/svc-api", true],
  ["octo-org/svc-*", "octo-org/svc-", true],
  ["octo-org/svc-*", "octo-org/web", false],
  ["octo-org/*-api", "octo-org/svc-api", true],
  ["octo-org/*-api", "octo-org/api", false],
  ["octo-org/a*b*c", "octo-org/abc", true],
  ["octo-org/a*b*c", "octo-org/axxbyyc", true],
  ["octo-org/a*b*c", "octo-org/acb", false],
  ["octo-org/ab*ba", "octo-org/aba", false], // prefix and suffix may not overlap
  ["octo-org/ab*ba", "octo-org/abba", true],
  ["octo-org/*", "octo-org/anything", true],
  ["*/app", "any-org/app", true],
  ["*", "any-org/app", true],
  ["octo-*", "octo-org/app", true],
  ["octo-org/*", "octo-org/a/b", false], // "*" never crosses "/"
  ["octo-*/app", "octo-org/x/app", false],
  ["octo-org/a.b", "octo-org/axb", false], // "." is a character, not "any character"
  ["octo-org/a+", "octo-org/aa", false],
  ["octo-org/[ab]", "octo-org/a", false],
  ["octo-org/x/y", "octo-org/x", false],
])("%s matches %s: %s", (pattern, fullName, expected) => {
  expect(matchesPattern(fullName, pattern)).toBe(expected);
});

test.each([
  ["", "", true],
  ["*", "", true],
  ["**", "abc", true],
  ["a**c", "ac", true],
  ["*x*", "abc", false],
  ["*b*", "abc", true],
  ["a*a*a", "aaa", true],
  ["a*a*a", "aa", false],
])("glob %j against %j: %s", (glob, text, expected) => {
  expect(globMatches(glob, text)).toBe(expected);
});

/** The median cost of one call, in microseconds, over `runs` runs. */
function microseconds(call: () => void, runs = 200): number {
  const times: number[] = [];
  for (let run = 0; run < runs; run++) {
    const start = process.hrtime.bigint();
    call();
    times.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)]!;
}

test("the issue's hostile pattern, and very long names, cost microseconds", () => {
  // Twenty stars and a letter that never matches: the old glob-to-RegExp matcher backtracked for minutes.
  const hostile = "********************X";
  const longName = `octo-org/${"a".repeat(100)}`;
  expect(matchesPattern(longName, hostile)).toBe(false);
  expect(matchesAny(longName, [hostile, `octo-org/${"*a".repeat(99)}X`, `${"*".repeat(39)}/${"*".repeat(100)}b`])).toBe(false);
  expect(microseconds(() => matchesPattern(longName, hostile))).toBeLessThan(50);
  // The worst a bounded list can do: every pattern at the length bound, against the longest name.
  const worst = Array.from(
    { length: MAX_PATTERNS },
    (_, i) => `*/${"*a".repeat((MAX_PATTERN_LENGTH - 6) / 2)}${String(i).padStart(3, "0")}`,
  );
  expect(patternListProblem(worst)).toBeUndefined();
  // About 10 ms on an idle core; the bound leaves room for a loaded machine (the old matcher took minutes for one pattern).
  expect(microseconds(() => matchesAny(longName, worst), 20)).toBeLessThan(200_000);
});

test.each([
  ["too many patterns", Array.from({ length: MAX_PATTERNS + 1 }, (_, i) => `app-${i}`), /repository patterns; at most/],
  ["a pattern too long", [`octo-org/${"*".repeat(MAX_PATTERN_LENGTH)}`], /characters; at most/],
  ["a pattern with two slashes", ["octo-org/a/b"], /more than one "\/"/],
])("%s is refused in settings and in policy files alike", (_case, patterns, problem) => {
  expect(patternListProblem(patterns)).toMatch(problem);
  expect(() =>
    loadSettings({ APP_ID: "1", PRIVATE_KEY: "k", WEBHOOK_SECRET: "s".repeat(20), ALLOWED_REPOSITORIES: patterns.join(",") }),
  ).toThrow(/ALLOWED_REPOSITORIES/);
  expect(() =>
    loadSettings({ APP_ID: "1", PRIVATE_KEY: "k", WEBHOOK_SECRET: "s".repeat(20), DENIED_REPOSITORIES: patterns.join(",") }),
  ).toThrow(/DENIED_REPOSITORIES/);
  const parsed = orgPolicySchema.safeParse({ repositories: patterns });
  expect(parsed.success).toBe(false);
  expect(parsed.error?.issues[0]?.message).toMatch(problem);
});
