// The watch list, table by table: what a pass leaves unresolved stays watched until a
// pass reads it and finds it resolved; bounded, per installation and in all.
import type { JobRef } from "../../src/model/job.js";
import type { ObservedRunner } from "../../src/reconcile/observation.js";
import { unresolvedIn, WatchList } from "../../src/reconcile/watch-list.js";

const NOW = Date.parse("2026-11-27T12:00:00Z");

const job = (id: number, repo = "app", installationId = 9): JobRef => ({
  id,
  runId: 1,
  name: "build",
  labels: ["modal"],
  createdAt: new Date(NOW).toISOString(),
  installationId,
  repository: { id, owner: "octo-org", name: repo, ownerType: "Organization", private: true, visibility: "private" },
});
const registration = (name: string, busy = false, scopeKey = "org:octo-org"): ObservedRunner => ({
  id: 1,
  name,
  status: "online",
  busy,
  labels: ["modal"],
  scopeKey,
  installationId: 9,
});
const watched = (list: WatchList) => [
  ...list.repositories().map((entry) => `repo ${entry.repository.owner}/${entry.repository.name}`),
  ...list.scopes().map((entry) => `scope ${entry.scopeKey}`),
];

test.each([
  ["nothing seen: nothing watched", [], [], []],
  ["a queued job keeps its repository watched", [job(1)], [], ["repo octo-org/app"]],
  ["an idle registration (with or without sandbox) keeps its scope watched", [], [registration("modal-1-0")], ["scope org:octo-org"]],
  ["a busy runner needs no watching", [], [registration("modal-1-0", true)], []],
])("%s", (_, queuedJobs, runners, expected) => {
  const list = new WatchList();
  list.update(unresolvedIn({ queuedJobs, runners }), { repositories: [], scopes: [] }, NOW);
  expect(watched(list)).toEqual(expected);
});

test.each([
  ["read and resolved: dropped", ["octo-org/app"], [], []],
  ["read and still unresolved: kept", ["octo-org/app"], [job(1)], ["repo octo-org/app"]],
  ["not read (the listing failed): kept", [], [], ["repo octo-org/app"]],
])("a watched repository %s", (_, read, queuedJobs, expected) => {
  const list = new WatchList();
  list.update(unresolvedIn({ queuedJobs: [job(1)], runners: [] }), { repositories: [], scopes: [] }, NOW);
  list.update(unresolvedIn({ queuedJobs, runners: [] }), { repositories: read, scopes: [] }, NOW + 60_000);
  expect(watched(list)).toEqual(expected);
});

test("an entry older than GitHub keeps a queued job (a day) is dropped even if never read", () => {
  const list = new WatchList();
  list.update(unresolvedIn({ queuedJobs: [job(1)], runners: [] }), { repositories: [], scopes: [] }, NOW);
  list.update([], { repositories: [], scopes: [] }, NOW + 24 * 3_600_000);
  expect(list.size).toBe(0);
});

test("bounded: one installation keeps its most recently confirmed entries, and cannot push another's out", () => {
  const list = new WatchList({ total: 5, perInstallation: 3 });
  list.update(unresolvedIn({ queuedJobs: [job(1, "other", 7)], runners: [] }), { repositories: [], scopes: [] }, NOW);
  for (let i = 0; i < 6; i++)
    list.update(unresolvedIn({ queuedJobs: [job(i, `repo-${i}`)], runners: [] }), { repositories: [], scopes: [] }, NOW + i);
  expect(watched(list).sort()).toEqual(["repo octo-org/other", "repo octo-org/repo-3", "repo octo-org/repo-4", "repo octo-org/repo-5"]);
  // In all: the entry confirmed longest ago goes first.
  const small = new WatchList({ total: 2, perInstallation: 2 });
  small.update(unresolvedIn({ queuedJobs: [job(1, "a"), job(2, "b")], runners: [] }), { repositories: [], scopes: [] }, NOW);
  small.update(unresolvedIn({ queuedJobs: [job(1, "a"), job(3, "c", 7)], runners: [] }), { repositories: [], scopes: [] }, NOW + 1);
  expect(watched(small).sort()).toEqual(["repo octo-org/a", "repo octo-org/c"]);
});

test("an installation that is gone, or a repository taken from it, is no longer watched", () => {
  const list = new WatchList();
  list.update(
    unresolvedIn({ queuedJobs: [job(1, "a"), job(2, "b"), job(3, "c", 7)], runners: [registration("modal-9-0")] }),
    { repositories: [], scopes: [] },
    NOW,
  );
  list.forget({ installationId: 9, repositories: ["octo-org/a"] });
  expect(watched(list).sort()).toEqual(["repo octo-org/b", "repo octo-org/c", "scope org:octo-org"]);
  list.forget({ installationId: 9 });
  expect(watched(list)).toEqual(["repo octo-org/c"]);
});
