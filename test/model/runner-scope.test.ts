// The scope-key rules have one home (model/runner-scope.ts): one format, one case
// (lower), one answer to "can this scope's runners take that repository's jobs".
// This table proves every user agrees: the key written on a sandbox, the key read
// back from an old sandbox's tag, the webhook's match of events to sandboxes, the
// reconciler's match of queued jobs to idle runners, and its watch list.
import type { JobRef } from "../../src/model/job.js";
import { coversLabels, hasLabel, missingLabel } from "../../src/model/labels.js";
import { canonicalScopeKey, scopeFromKey, scopeKey, scopeServes } from "../../src/model/runner-scope.js";
import { belongsTo, MANAGED_BY } from "../../src/model/sandbox-tags.js";
import { toObservedSandbox, type Observation } from "../../src/reconcile/observation.js";
import { planRepairs } from "../../src/reconcile/plan-repairs.js";
import { unresolvedIn, WatchList } from "../../src/reconcile/watch-list.js";

const NOW = Date.parse("2026-11-30T12:00:00Z");

test.each([
  [{ kind: "org", org: "Octo-Org" } as const, "org:octo-org"],
  [{ kind: "org", org: "octo-org" } as const, "org:octo-org"],
  [{ kind: "repo", owner: "Octo-Org", repo: "App" } as const, "repo:octo-org/app"],
  [{ kind: "repo", owner: "octocat", repo: "hello.world" } as const, "repo:octocat/hello.world"],
])("scopeKey(%j) is %s, and reads back as the same scope", (scope, key) => {
  expect(scopeKey(scope)).toBe(key);
  expect(scopeKey(scopeFromKey(key)!)).toBe(key);
});

test.each([
  ["org:Octo-Org", "org:octo-org"],
  ["repo:Octo-Org/App", "repo:octo-org/app"],
  ["repo:octo-org/app", "repo:octo-org/app"],
])("a tag written %s (before keys were lower-case) is observed as %s", (tag, key) => {
  expect(canonicalScopeKey(tag)).toBe(key);
  const observed = toObservedSandbox({ sandboxId: "sb-1", name: "modal-1-0", createdAt: NOW, tags: { scope: tag } });
  expect(observed.scopeKey).toBe(key);
});

/** [scope key as written, repository as a payload spells it, whether the scope's runners serve it] */
const SERVES: Array<[string, string, boolean]> = [
  ["org:octo-org", "octo-org/app", true],
  ["org:Octo-Org", "octo-org/app", true],
  ["org:octo-org", "Octo-Org/App", true],
  ["repo:octo-org/app", "Octo-Org/App", true],
  ["repo:Octo-Org/App", "octo-org/app", true],
  ["repo:octo-org/app", "octo-org/other", false],
  ["org:octo-org", "octo-org-2/app", false],
  ["org:octo", "octo-org/app", false],
  ["repo:octo-org/app", "octo-org/app-2", false],
  ["repo:octo-org", "octo-org/app", false],
  ["nonsense", "octo-org/app", false],
];

const jobOf = (repository: string, labels = ["self-hosted", "modal"]): JobRef => {
  const [owner, name] = repository.split("/") as [string, string];
  return {
    id: 1,
    runId: 1,
    name: "build",
    labels,
    createdAt: new Date(NOW - 5 * 60_000).toISOString(),
    installationId: 9,
    repository: { id: 1, owner, name, ownerType: "Organization", private: true, visibility: "private" },
  };
};

/** The reconciler's view: the job queued five minutes, one idle runner (made for it) in scope `key`. */
function worldWith(key: string, job: JobRef, runnerLabels = ["self-hosted", "modal"]): Observation {
  return {
    now: NOW,
    sandboxes: [
      {
        sandboxId: "sb-1",
        name: "modal-1-0",
        createdAt: NOW - 60_000,
        jobId: 1,
        repository: "octo-org/app",
        installationId: 9,
        scopeKey: key,
        profile: "default",
      },
    ],
    runners: [{ id: 10, name: "modal-1-0", status: "online", busy: false, labels: runnerLabels, scopeKey: key, installationId: 9 }],
    listedScopes: [key],
    queuedJobs: [job],
    scannedRepositories: [`${job.repository.owner}/${job.repository.name}`],
    runnerWithoutSandboxSince: {},
    sandboxWithoutRunnerSince: {},
    dispatching: [],
    installations: undefined,
    assignments: [],
    busySince: {},
  };
}

const plan = (world: Observation) =>
  planRepairs(world, {
    namePrefix: "modal",
    idleRunnerTimeoutMs: 15 * 60_000,
    finishedGraceMs: 2 * 60_000,
    registrationGraceMs: 3 * 60_000,
    unservedJobGraceMs: 60_000,
    lifetimeCapMs: { byProfile: {}, otherwise: 3_600_000 },
  });

test.each(SERVES)("scope %s serves %s: %s, for every user of the rule", (key, repository, serves) => {
  expect(scopeServes(key, repository)).toBe(serves);
  // The webhook side: may an event from the repository touch a sandbox tagged with the scope?
  const tags = { managed_by: MANAGED_BY, installation_id: "9", scope: key };
  expect(belongsTo(tags, { installationId: 9, repository })).toBe(serves);
  // The reconciler: a queued job is matched with an idle runner of a scope that serves it (no second runner).
  const serveAgain = plan(worldWith(key, jobOf(repository))).some((repair) => repair.kind === "serve-unserved-job");
  expect(serveAgain).toBe(!serves);
});

test("the watch list names a scope by one key however it was spelled", () => {
  const watch = new WatchList();
  const idle = { id: 10, name: "modal-1-0", status: "online", busy: false, labels: ["modal"], installationId: 9 };
  const unresolved = unresolvedIn({
    queuedJobs: [],
    runners: [
      { ...idle, scopeKey: "org:Octo-Org" },
      { ...idle, scopeKey: "org:octo-org" },
    ],
  });
  expect(unresolved).toHaveLength(1);
  watch.update(unresolved, { repositories: [], scopes: [] }, NOW);
  expect(watch.scopes()).toHaveLength(1);
  // Listed completely under the canonical key and found resolved: it leaves the list.
  watch.update([], { repositories: [], scopes: ["org:octo-org"] }, NOW + 1);
  expect(watch.scopes()).toEqual([]);
});

/** [labels a runner offers, labels a job asks for, whether the runner satisfies the job] */
test.each([
  [["self-hosted", "modal"], ["self-hosted", "modal"], true],
  [["Self-Hosted", "MODAL"], ["self-hosted", "modal"], true],
  [["self-hosted", "modal"], ["Modal"], true],
  [["self-hosted", "modal"], ["modal", "gpu"], false],
  [[], ["modal"], false],
  [["modal"], [], true],
])("a runner with %j satisfies a job asking for %j: %s (the reconciler agrees)", (offered, wanted, fits) => {
  expect(coversLabels(offered, wanted)).toBe(fits);
  const serveAgain = plan(worldWith("org:octo-org", jobOf("octo-org/app", wanted), offered)).some(
    (repair) => repair.kind === "serve-unserved-job",
  );
  expect(serveAgain).toBe(!fits);
});

test.each([
  [["self-hosted", "modal"], "modal", undefined],
  [["self-hosted", "MODAL"], "modal", undefined],
  [["self-hosted", "modal"], "Modal", undefined],
  [["self-hosted", "linux"], "modal", 'labels [self-hosted, linux] do not include "modal"'],
  [[], "modal", 'labels [] do not include "modal"'],
])("a job with %j is ours (label %s) unless: %s", (labels, runnerLabel, reason) => {
  expect(missingLabel(labels, runnerLabel)).toBe(reason);
  expect(hasLabel(labels, runnerLabel)).toBe(reason === undefined);
});
