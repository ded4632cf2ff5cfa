// The App's Octokit against the fake GitHub with GitHub's secondary limits enforced: the
// request budget keeps a 200-job burst free of 403s, dispatch goes ahead of reconcile
// reads, and rate-limit answers pause the installation instead of being retried blindly.
// The window is GitHub's minute, on a clock both sides read: a test skips to the next
// window once the budget waits for it (no window ends while requests are under way, as
// a real 1 s window did on a loaded machine). Counts and order only: no wall-clock assertions.
import { createOctokitClass, type OctokitTuning } from "../../src/github/create-octokit-class.js";
import { BACKGROUND, RateLimitedError } from "../../src/github/budget-requests.js";
import { GITHUB_SECONDARY_LIMITS } from "../../src/github/installation-budget.js";
import { RequestBudgets } from "../../src/github/request-budgets.js";
import { FastForwardClock } from "../support/fast-forward-clock.js";
import { ManualClock } from "../support/manual-clock.js";
import { DEFAULT_PERMISSIONS, FakeGitHub } from "@modal-github-runner/simulator/fake-github";

const WINDOW_MS = GITHUB_SECONDARY_LIMITS.windowMs;
const JIT = "/orgs/{org}/actions/runners/generate-jitconfig";
const RUNS = "/repos/{owner}/{repo}/actions/runs";
const TUNING: OctokitTuning = { retryBaseMs: 1, rateLimitBaseMs: 1, maxRateLimitWaitSeconds: 60, maxRetries: 3 };

let gh: FakeGitHub;
let clock: FastForwardClock;
let budgets: RequestBudgets;
let Octokit: ReturnType<typeof createOctokitClass>;
const INST = 1001;
const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

beforeEach(async () => {
  clock = new FastForwardClock();
  gh = await FakeGitHub.start({ now: clock.now });
  gh.addInstallation({ id: INST, account: "acme", permissions: { ...DEFAULT_PERMISSIONS } });
  gh.addRepository({ installationId: INST, owner: "acme", name: "api" });
  budgets = new RequestBudgets(GITHUB_SECONDARY_LIMITS, clock);
  Octokit = createOctokitClass(TUNING, budgets);
});

afterEach(async () => {
  await gh.close();
});

function installationOctokit(options: Record<string, unknown> = {}) {
  return new Octokit({
    auth: { appId: gh.appId, privateKey: gh.privateKey, installationId: INST },
    baseUrl: gh.baseUrl,
    log: quiet,
    ...options,
  });
}

/**
 * Settles `requests`, skipping to the next window each time the installation's budget has
 * nothing in flight and requests queued (it waits for spent points to come back).
 */
async function overWindows(requests: Array<Promise<unknown>>): Promise<Array<PromiseSettledResult<unknown>>> {
  let done = false;
  const settled = Promise.allSettled(requests).finally(() => (done = true));
  let windows = 0;
  while (!done) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    const headroom = budgets.headroom(INST);
    if (headroom.inFlight === 0 && headroom.queued.foreground + headroom.queued.background > 0) {
      if (++windows > 5) throw new Error("still waiting after 5 windows");
      await clock.advance(WINDOW_MS);
    }
  }
  return settled;
}

const jitConfig = (octokit: ReturnType<typeof installationOctokit>, name: string) =>
  octokit.request("POST /orgs/{org}/actions/runners/generate-jitconfig", { org: "acme", name, runner_group_id: 1, labels: ["modal"] });

test("200 JIT configs for one installation under enforced secondary limits: no 403, every runner registered once", async () => {
  const octokit = installationOctokit();
  await octokit.request("GET /repos/{owner}/{repo}", { owner: "acme", repo: "api" }); // token minted
  gh.secondaryLimits.enable({ windowMs: WINDOW_MS });

  const results = await overWindows(Array.from({ length: 200 }, (_, i) => jitConfig(octokit, `modal-${i}`)));

  expect(results.filter((r) => r.status === "rejected")).toEqual([]);
  expect(gh.secondaryLimits.limitedCount()).toBe(0);
  expect(gh.runners()).toHaveLength(200);
  expect(gh.requests.filter((r) => r.route === JIT).map((r) => r.status)).toEqual(Array(200).fill(201));
  gh.assertNoViolations();
});

test("a burst of reconcile reads does not hold back dispatch writes, and no read is answered 403", async () => {
  const dispatch = installationOctokit();
  const reconcile = installationOctokit({ requestPriority: "background" });
  await dispatch.request("GET /repos/{owner}/{repo}", { owner: "acme", repo: "api" }); // token minted
  gh.secondaryLimits.enable({ windowMs: WINDOW_MS });

  // A reconcile pass starts reading first, then 200 jobs arrive.
  const reads = Array.from({ length: 400 }, (_, i) =>
    reconcile.request("GET /repos/{owner}/{repo}/actions/runs", {
      owner: "acme",
      repo: "api",
      per_page: 1 + (i % 100),
      page: 1 + Math.floor(i / 100),
    }),
  );
  const perRequest = dispatch.request("GET /repos/{owner}/{repo}/actions/runs", {
    owner: "acme",
    repo: "api",
    request: { priority: "background" },
  });
  const writes = Array.from({ length: 200 }, (_, i) => jitConfig(dispatch, `modal-${i}`));
  const results = await overWindows([...reads, perRequest, ...writes]);

  expect(results.filter((r) => r.status === "rejected")).toEqual([]);
  expect([...gh.secondaryLimits.limitedByRoute]).toEqual([]);
  const arrivals = gh.requests.filter((r) => r.route === JIT || r.route === RUNS).map((r) => (r.route === JIT ? "write" : "read"));
  // Reads already in flight when the jobs arrived (at most the background share of
  // the concurrency) are the only ones ahead of the writes the window allows at once.
  const writesInFirstWindow = (GITHUB_SECONDARY_LIMITS.capacity - GITHUB_SECONDARY_LIMITS.backgroundMaxInFlight) / 5;
  const beforeThoseWrites = arrivals.slice(0, indexOfNth(arrivals, "write", writesInFirstWindow));
  expect(beforeThoseWrites.filter((a) => a === "read").length).toBeLessThanOrEqual(GITHUB_SECONDARY_LIMITS.backgroundMaxInFlight);
  expect(arrivals.filter((a) => a === "read")).toHaveLength(401);
  expect(gh.runners()).toHaveLength(200);
  gh.assertNoViolations();
});

function indexOfNth(list: string[], value: string, n: number): number {
  let seen = 0;
  for (let i = 0; i < list.length; i++) if (list[i] === value && ++seen === n) return i;
  throw new Error(`fewer than ${n} ${value}s`);
}

test("a secondary-limit 403 pauses the installation and is retried through the budget; a 409 is never retried", async () => {
  const octokit = installationOctokit();
  gh.failNext(
    { method: "POST", route: JIT },
    { status: 403, headers: { "retry-after": "1" }, body: { message: "You have exceeded a secondary rate limit." } },
  );
  await jitConfig(octokit, "modal-a");
  await expect(jitConfig(octokit, "modal-a")).rejects.toMatchObject({ status: 409 });
  expect(gh.requests.filter((r) => r.route === JIT).map((r) => r.status)).toEqual([403, 201, 409]);
});

test("5xx answers are retried with backoff; a 404 is not", async () => {
  const octokit = installationOctokit();
  gh.failNext({ method: "POST", route: JIT }, { status: 502 }, 2);
  await jitConfig(octokit, "modal-b");
  await expect(
    octokit.request("GET /repos/{owner}/{repo}/actions/jobs/{job_id}", { owner: "acme", repo: "api", job_id: 1 }),
  ).rejects.toMatchObject({ status: 404 });
  expect(gh.requests.filter((r) => r.route === JIT).map((r) => r.status)).toEqual([502, 502, 201]);
  expect(gh.requests.filter((r) => r.route.endsWith("{job_id}"))).toHaveLength(1);
});

test("plugin-retry retries a 5xx through the budget (every attempt is paid for); a 409 or a 422 is never retried", async () => {
  // A clock that never moves: the bucket does not refill, so what it lost is what was spent.
  const stillBudgets = new RequestBudgets(GITHUB_SECONDARY_LIMITS, new ManualClock());
  const octokit = new (createOctokitClass(TUNING, stillBudgets))({
    auth: { appId: gh.appId, privateKey: gh.privateKey, installationId: INST },
    baseUrl: gh.baseUrl,
    log: quiet,
  });
  const spent = () => stillBudgets.headroom(INST).capacity - stillBudgets.headroom(INST).points;
  gh.failNext({ method: "POST", route: JIT }, { status: 502 }, 2);
  await jitConfig(octokit, "modal-c");
  expect(gh.requests.filter((r) => r.route === JIT).map((r) => r.status)).toEqual([502, 502, 201]);
  expect(spent()).toBe(3 * 5);

  await expect(jitConfig(octokit, "modal-c")).rejects.toMatchObject({ status: 409 });
  gh.failNext({ method: "POST", route: JIT }, { status: 422, body: { message: "Validation Failed" } });
  await expect(jitConfig(octokit, "modal-d")).rejects.toMatchObject({ status: 422 });
  expect(gh.requests.filter((r) => r.route === JIT).map((r) => r.status)).toEqual([502, 502, 201, 409, 422]);
  expect(spent()).toBe(5 * 5);
});

test("an exhausted primary limit holds the installation until its reset; requests that would wait too long fail without reaching GitHub", async () => {
  const octokit = installationOctokit();
  await octokit.request("GET /repos/{owner}/{repo}", { owner: "acme", repo: "api" }); // token minted
  const reset = Math.floor(Date.now() / 1000) + 3600;
  gh.failNext(
    { method: "GET", route: RUNS },
    {
      status: 403,
      headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(reset) },
      body: { message: "API rate limit exceeded for installation." },
    },
  );
  await expect(octokit.request("GET /repos/{owner}/{repo}/actions/runs", { owner: "acme", repo: "api" })).rejects.toMatchObject({
    status: 403,
  });
  expect(budgets.headroom(INST).pausedUntil).toBe(reset * 1000);
  const sent = gh.requests.length;
  await expect(jitConfig(octokit, "modal-c")).rejects.toBeInstanceOf(RateLimitedError);
  expect(gh.requests.length).toBe(sent);
  // another installation's budget is not affected
  expect(budgets.headroom(INST + 1).pausedUntil).toBeUndefined();
});

test("BACKGROUND marks every page of octokit.paginate as background, and background stops at the reserve", async () => {
  budgets = new RequestBudgets({ ...GITHUB_SECONDARY_LIMITS, capacity: 10, backgroundReserve: 5, windowMs: 3_600_000 });
  Octokit = createOctokitClass(TUNING, budgets);
  const octokit = installationOctokit();
  for (let i = 0; i < 8; i++) gh.queueJob({ owner: "acme", repo: "api", labels: ["modal"] });

  let finished = false;
  void octokit
    .paginate("GET /repos/{owner}/{repo}/actions/runs", { owner: "acme", repo: "api", per_page: 1, ...BACKGROUND })
    .then(() => (finished = true));
  for (let i = 0; i < 500 && budgets.headroom(INST).queued.background === 0; i++) await new Promise((r) => setTimeout(r, 10));

  // five pages spent the five points above the reserve; the sixth waits for the window
  expect(budgets.headroom(INST)).toMatchObject({ points: 5, inFlight: 0, queued: { foreground: 0, background: 1 } });
  expect(gh.requests.filter((r) => r.route === RUNS)).toHaveLength(5);
  expect(finished).toBe(false);
  // dispatch still gets the reserve
  await jitConfig(octokit, "modal-d");
  expect(budgets.headroom(INST).points).toBe(0);
  gh.assertNoViolations();
});
