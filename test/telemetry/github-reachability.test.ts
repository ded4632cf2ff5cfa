// GitHub is unreachable for the App when a call gets no answer, a 5xx, or a 401 (the
// App's key refused); any other answer proves GitHub answers, and a success heals.
import { GitHubReachability, meansUnreachable } from "../../src/telemetry/github-reachability.js";

const httpError = (status: number, cause?: unknown) =>
  Object.assign(new Error(`HTTP ${status}`), { status, request: { method: "GET", url: "http://x/app/installations" }, cause });
const refused = httpError(500, new Error("fetch failed", { cause: Object.assign(new Error("connect"), { code: "ECONNREFUSED" }) }));

test.each([
  { error: refused, unreachable: true },
  { error: httpError(502), unreachable: true },
  { error: httpError(401), unreachable: true },
  { error: new TypeError("fetch failed"), unreachable: true },
  { error: httpError(404), unreachable: false },
  { error: httpError(409), unreachable: false },
  { error: httpError(422), unreachable: false },
  { error: httpError(403), unreachable: false },
])("$error.message → unreachable: $unreachable", ({ error, unreachable }) => {
  expect(meansUnreachable(error)).toBe(unreachable);
});

test("unreachable since the first failure, with the last reason; the next answer heals it", () => {
  let now = Date.parse("2026-11-30T10:00:00Z");
  const github = new GitHubReachability(() => now);
  expect(github.state()).toEqual({ reachable: true });
  github.failed(refused);
  now += 5_000;
  github.failed(httpError(401));
  expect(github.state()).toEqual({
    reachable: false,
    since: "2026-11-30T10:00:00.000Z",
    reason: expect.stringMatching(/^GitHub rejected the App's credentials \(401\)/),
  });
  github.failed(httpError(404)); // an answer: GitHub is there
  expect(github.state()).toEqual({ reachable: true });
});
