// Weeks of jobs must not grow memory (issue 9): every long-lived map and set the App
// keeps has a size bound. Each part here is fed far more entries than its bound and
// must keep only a bounded number, forgetting the oldest (the dispatcher's memories
// are in test/dispatch/dispatcher.test.ts, the redelivery state in
// test/github/redeliver-failed-deliveries.test.ts). Live work (jobs in flight or
// waiting, the caps' count, which Modal's list replaces each pass) is bounded by
// what GitHub and Modal hold, not here.
import { Octokit } from "@octokit/core";
import { pino } from "pino";
import { conditionalRequests } from "../../src/github/conditional-requests.js";
import { RequestBudgets } from "../../src/github/request-budgets.js";
import type { AppOctokit } from "../../src/github/create-octokit-class.js";
import type { RepositoryRef } from "../../src/model/job.js";
import type { RunnerConfig } from "../../src/model/runner-profile.js";
import { priceTable } from "../../src/telemetry/cost.js";
import { SandboxLedger } from "../../src/telemetry/sandbox-ledger.js";
import { operatorPolicy } from "../../src/policy/org-policy.js";
import { PolicyFiles } from "../../src/policy/policy-files.js";
import { MAX_KNOWN_REPOSITORIES, RepositoryDirectory } from "../../src/reconcile/repository-directory.js";
import { RunJobsMemory } from "../../src/reconcile/run-jobs-memory.js";
import { Sightings } from "../../src/lib/sightings.js";
import { ManualClock } from "../support/manual-clock.js";

const repository = (name: string, owner = "octo-org"): RepositoryRef => ({
  id: 1,
  owner,
  name,
  ownerType: "Organization",
  private: true,
  visibility: "private",
});
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

test("the repository directory keeps at most its bound, the least recently seen forgotten first", () => {
  const directory = new RepositoryDirectory();
  const total = MAX_KNOWN_REPOSITORIES * 2;
  for (const i of range(total)) directory.noteActivity(repository(`repo-${i}`), 1, i);
  expect(directory.activeSince(0)).toHaveLength(MAX_KNOWN_REPOSITORIES);
  expect(directory.get("octo-org/repo-0")).toBeUndefined();
  expect(directory.get(`octo-org/repo-${total - 1}`)).toMatchObject({ activeAt: total - 1 });
});

test("orphan sightings keep a bounded number, oldest forgotten first", () => {
  const sightings = new Sightings();
  for (const i of range(50_000)) sightings.firstSeen(`modal-${i}-0#${i}`, i);
  expect(sightings.firstSeen("modal-0-0#0", 1_000_000)).toBe(1_000_000); // forgotten: seen anew
  expect(sightings.firstSeen("modal-49999-0#49999", 1_000_000)).toBe(49_999); // remembered
});

test("reconcile sightings keep only what the last pass saw", () => {
  const sightings = new Sightings();
  for (const pass of range(20))
    sightings.update(
      range(5_000).map((i) => `scope-${pass} runner-${i}`),
      pass,
    );
  const since = sightings.update(["scope-0 runner-0", "scope-19 runner-1"], 100);
  // Keys not seen in a pass were forgotten: one seen again starts over.
  expect(since).toEqual({ "scope-0 runner-0": 100, "scope-19 runner-1": 19 });
});

test("the sandbox ledger keeps a bounded number of sandboxes", () => {
  const ledger = new SandboxLedger(
    () => undefined,
    priceTable(),
    () => undefined,
    () => 0,
  );
  // 25,000 sandboxes: more than the ledger's bound (20,000) by a fifth.
  for (const i of range(25_000))
    ledger.started({ name: `modal-${i}-0`, installationId: 1, profile: "default", repository: "octo-org/app", jobId: i });
  expect(ledger.list().length).toBeLessThanOrEqual(20_000);
  expect(ledger.get("modal-24999-0", 1)).toBeDefined();
  expect(ledger.get("modal-0-0", 1)).toBeUndefined();
});

test("the run memory keeps a bounded number of runs", async () => {
  const memory = new RunJobsMemory();
  const at = new Date(0).toISOString();
  // 25,000 runs: more than the memory's bound (20,000) by a fifth.
  const runs = range(25_000).map((id) => ({ id, status: "queued" as const, createdAt: at, updatedAt: at }));
  const read = async () => [];
  expect((await memory.queuedJobs(runs, read, { refresh: false, youngerThan: Date.now() })).reads).toBe(25_000);
  // Unchanged runs are not read again while remembered: the newest are, the oldest were forgotten.
  expect((await memory.queuedJobs(runs.slice(-1000), read, { refresh: false, youngerThan: Date.now() })).reads).toBe(0);
  expect((await memory.queuedJobs(runs.slice(0, 1000), read, { refresh: false, youngerThan: Date.now() })).reads).toBe(1000);
});

test("request budgets of idle installations are dropped past the bound", () => {
  const clock = new ManualClock();
  const budgets = new RequestBudgets(undefined, clock);
  for (const id of range(10_000)) budgets.of(id);
  expect(budgets.all().length).toBeLessThanOrEqual(1001);
});

test("the conditional-request cache keeps a bounded number of answers, least recently used forgotten first", async () => {
  const ifNoneMatch = new Map<string, string | undefined>();
  const fetch = async (url: string, init: { headers: Record<string, string> }) => {
    ifNoneMatch.set(new URL(url).pathname, init.headers["if-none-match"]);
    return new Response("{}", { status: 200, headers: { etag: `"${url}"`, "content-type": "application/json" } });
  };
  const octokit = new (Octokit.plugin(conditionalRequests))({ request: { fetch } });
  const total = 6_000; // the cache's bound (5,000) and a fifth more
  for (const i of range(total)) await octokit.request("GET /repos/{owner}/{repo}", { owner: "octo-org", repo: `repo-${i}` });
  await octokit.request("GET /repos/{owner}/{repo}", { owner: "octo-org", repo: "repo-0" });
  await octokit.request("GET /repos/{owner}/{repo}", { owner: "octo-org", repo: `repo-${total - 1}` });
  expect(ifNoneMatch.get("/repos/octo-org/repo-0")).toBeUndefined(); // forgotten
  expect(ifNoneMatch.get(`/repos/octo-org/repo-${total - 1}`)).toBeDefined(); // remembered
});

test("policy files: the cache of read files keeps a bounded number, oldest forgotten first", async () => {
  const reads: string[] = [];
  const octokit = {
    request: async (route: string, params: { owner: string; repo: string }) => {
      // An installation on all its repositories: a 404 for .github means there is none.
      if (route === "GET /installation/repositories") return { data: { repository_selection: "all" } };
      if (route.includes("/contents/")) reads.push(`${params.owner}/${params.repo}`);
      throw Object.assign(new Error("Not Found"), { status: 404 });
    },
  } as unknown as AppOctokit;
  const files = new PolicyFiles(pino({ level: "silent" }), () => 0);
  const operator = operatorPolicy({
    profiles: [],
    caps: { total: undefined, perInstallation: undefined, perRepository: undefined, perProfile: {} },
  } as unknown as RunnerConfig);
  const total = 12_000; // the cache's bound (10,000) and a fifth more
  for (const i of range(total)) await files.effective(octokit, operator, repository(".github", `org-${i}`));
  reads.length = 0;
  await files.effective(octokit, operator, repository(".github", `org-${total - 1}`));
  expect(reads).toEqual([]); // remembered (within its minute)
  await files.effective(octokit, operator, repository(".github", "org-0"));
  expect(reads).toEqual(["org-0/.github"]); // forgotten: read again
});
