// The App's Octokit and what it drives: the request budget under GitHub's secondary
// limits, retries, the fetch it uses, the client it keeps per installation for Probot,
// and the redelivery of failed deliveries through GitHub's delivery log. One file (one
// load of Probot and the App's GitHub modules) for these cases.
import http from "node:http";
import { createOctokitClass, type OctokitTuning } from "../../src/github/create-octokit-class.js";
import { BACKGROUND, RateLimitedError } from "../../src/github/budget-requests.js";
import { GITHUB_SECONDARY_LIMITS } from "../../src/github/installation-budget.js";
import { RequestBudgets } from "../../src/github/request-budgets.js";
import { FastForwardClock } from "../support/fast-forward-clock.js";
import { ManualClock } from "../support/manual-clock.js";
import { DEFAULT_PERMISSIONS, FakeGitHub } from "@modal-github-runner/simulator/fake-github";
import { Probot, type Context, ProbotOctokit } from "probot";
import { type IncomingMessage, type ServerResponse } from "node:http";
import { Agent } from "undici";
import { createUndiciFetch } from "../../src/github/undici-fetch.js";
import { describeFailure } from "../../src/lib/errors.js";
import { serveHandler } from "../support/serve-handler.js";
import { type AddressInfo } from "node:net";
import { createRedeliveryState, redeliverFailedDeliveries, type RedeliveryOptions } from "../../src/github/redeliver-failed-deliveries.js";

// The App's Octokit against the fake GitHub with GitHub's secondary limits enforced: the
// request budget keeps a 200-job burst free of 403s, dispatch goes ahead of reconcile
// reads, and rate-limit answers pause the installation instead of being retried blindly.
// The window is GitHub's minute, on a clock both sides read: a test skips to the next
// window once the budget waits for it (no window ends while requests are under way, as
// a real 1 s window did on a loaded machine). Counts and order only: no wall-clock assertions.
describe("the App's Octokit class", () => {
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
});

// Probot's `context.octokit` with the App's Octokit class: one client per installation,
// kept from delivery to delivery, acting as that installation; what Probot does for
// installation events and events without an installation is unchanged.
describe("one client per installation", () => {
  const quiet = { level: "silent", debug: () => {}, info: () => {}, warn: () => {}, error: () => {}, child: () => quiet };
  let gh: FakeGitHub;
  let probot: Probot;
  /** The client each delivery's handler was given, by delivery id. */
  let clients: Map<string, Context["octokit"]>;

  beforeEach(async () => {
    gh = await FakeGitHub.start();
    for (const [id, account] of [
      [1001, "acme"],
      [1002, "globex"],
    ] as const) {
      gh.addInstallation({ id, account, permissions: { ...DEFAULT_PERMISSIONS } });
      gh.addRepository({ installationId: id, owner: account, name: "api" });
    }
    probot = new Probot({
      appId: gh.appId,
      privateKey: gh.privateKey,
      secret: gh.webhookSecret,
      baseUrl: gh.baseUrl,
      Octokit: createOctokitClass({ retryBaseMs: 1, rateLimitBaseMs: 1, maxRateLimitWaitSeconds: 1, maxRetries: 0 }),
      log: quiet as never,
    });
    clients = new Map();
    await probot.load(
      (app) => {
        app.on(["workflow_job", "installation"], (context) => {
          clients.set(context.id, context.octokit);
        });
      },
      { cwd: process.cwd(), addHandler() {} },
    );
  });

  afterEach(async () => {
    await gh.close();
  });

  const deliver = (id: string, name: string, payload: Record<string, unknown>) =>
    probot.receive({ id, name, payload } as Parameters<Probot["receive"]>[0]);

  const workflowJob = (installationId: number) => ({ action: "queued", installation: { id: installationId }, workflow_job: { id: 1 } });

  /** The repositories a client sees as its installation (GitHub answers by the client's token). */
  async function repositoriesSeenBy(client: Context["octokit"]) {
    const { data } = await client.request("GET /installation/repositories");
    return data.repositories.map((repository) => repository.full_name);
  }

  test("deliveries of one installation share one client, which acts as that installation; another installation gets its own", async () => {
    await deliver("d1", "workflow_job", workflowJob(1001));
    await deliver("d2", "workflow_job", workflowJob(1001));
    await deliver("d3", "workflow_job", workflowJob(1002));

    expect(clients.get("d2")).toBe(clients.get("d1"));
    expect(clients.get("d3")).not.toBe(clients.get("d1"));
    expect(await repositoriesSeenBy(clients.get("d1")!)).toEqual(["acme/api"]);
    expect(await repositoriesSeenBy(clients.get("d3")!)).toEqual(["globex/api"]);
  });

  test("installation events and events without an installation get Probot's own client, built for the delivery", async () => {
    await deliver("i1", "installation", { action: "created", installation: { id: 1001 } });
    await deliver("i2", "installation", { action: "created", installation: { id: 1001 } });
    await deliver("n1", "workflow_job", { action: "queued" });
    await deliver("n2", "workflow_job", { action: "queued" });
    await deliver("s1", "installation", { action: "suspend", installation: { id: 1002 } });

    expect(clients.get("i2")).not.toBe(clients.get("i1"));
    expect(await repositoriesSeenBy(clients.get("i1")!)).toEqual(["acme/api"]);
    expect(clients.get("n2")).not.toBe(clients.get("n1"));
    // Probot's unauthenticated client for a delivery without an installation or a revoked one.
    await expect(repositoriesSeenBy(clients.get("n1")!)).rejects.toThrow(/installation/);
    await expect(repositoriesSeenBy(clients.get("s1")!)).rejects.toThrow(/revoked/);
  });
});

// The App's fetch (undici's request API) must look to Octokit exactly like Node's
// global fetch. Each case sends the same request through Probot's Octokit twice, once
// with each fetch, to a local server, and compares what Octokit made of the answer:
// data, status and headers, or the error (status, message, what describeFailure says).
// (A network failure's message is left out: Octokit copies the cause's message only when
// it is an Error of its own realm, which Node's errors are not inside Jest's vm modules.)
describe("the App's fetch", () => {
  const agent = new Agent();
  const undiciFetch = createUndiciFetch(agent);
  let server: Awaited<ReturnType<typeof serveHandler>>;
  /** Requests the server saw: method, path and body. */
  let seen: string[];

  function readAll(req: IncomingMessage): Promise<string> {
    return new Promise((resolve) => {
      let body = "";
      req.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
      req.on("end", () => resolve(body));
    });
  }

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}) =>
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers }).end(JSON.stringify(body));

  beforeAll(async () => {
    server = await serveHandler(async (req, res) => {
      const body = await readAll(req);
      seen.push(`${req.method} ${req.url} ${body}`);
      switch (req.url) {
        case "/repos/acme/api":
          json(
            res,
            200,
            { id: 1, full_name: "acme/api", big: 12345678901234567890 },
            {
              etag: '"v1"',
              link: '<https://api.github.com/x?page=2>; rel="next"',
              "set-cookie": ["a=1", "b=2"],
            },
          );
          return true;
        case "/echo":
          json(res, 201, { method: req.method, type: req.headers["content-type"], body: JSON.parse(body) as unknown });
          return true;
        case "/empty":
          res.writeHead(204).end();
          return true;
        case "/unchanged":
          res.writeHead(304, { etag: '"v1"' }).end();
          return true;
        case "/missing":
          json(res, 404, { message: "Not Found", documentation_url: "https://docs.github.com/rest" });
          return true;
        case "/conflict":
          json(res, 409, { message: "Already exists", errors: [{ code: "already_exists" }] });
          return true;
        case "/moved":
          res.writeHead(307, { location: "/echo" }).end();
          return true;
        case "/text":
          res.writeHead(200, { "content-type": "text/plain; charset=utf-8" }).end("plain words");
          return true;
        case "/slow":
          setTimeout(() => json(res, 200, {}), 5000).unref();
          return true;
        default:
          return false;
      }
    });
  });

  afterAll(async () => {
    await server.close();
    await agent.close();
  });

  beforeEach(() => {
    seen = [];
  });

  const octokitWith = (fetch: typeof globalThis.fetch, baseUrl = server.url) =>
    new ProbotOctokit({ baseUrl, request: { fetch }, retry: { enabled: false }, throttle: { enabled: false } });

  /** What Octokit made of one request: the parts of the answer that reach the App, or of the error. */
  async function outcome(fetch: typeof globalThis.fetch, route: string, parameters: Record<string, unknown> = {}, baseUrl?: string) {
    try {
      const { status, data, headers } = await octokitWith(fetch, baseUrl).request(route, parameters);
      const { date: _date, "keep-alive": _keepAlive, connection: _connection, ...stable } = headers as Record<string, unknown>;
      return { status, data: data as unknown, headers: stable };
    } catch (error) {
      const { name, message, status } = error as { name: string; message: string; status?: number };
      return { error: { name, status, ...describeFailure(error), ...(status === 500 ? {} : { message }) } };
    }
  }

  test.each<[string, string, Record<string, unknown>?]>([
    ["a JSON answer with an ETag, a Link and two cookies (and a number past 2^53)", "GET /repos/acme/api"],
    ["a POST with a JSON body", "POST /echo", { name: "modal-1-0", labels: ["modal"] }],
    ["204 No Content", "DELETE /empty"],
    ["304 Not Modified", "GET /unchanged"],
    ["a 404 with GitHub's error body", "GET /missing"],
    ["a 409 with errors", "POST /conflict", { name: "modal-1-0" }],
    ["a 307 redirect of a POST, followed with its body", "POST /moved", { name: "modal-1-0" }],
    ["a 307 redirect not followed (redirect: manual)", "POST /moved", { name: "modal-1-0", request: { redirect: "manual" } }],
    ["a text answer", "GET /text"],
  ])("%s: the same outcome and the same requests as with Node's fetch", async (_case, route, parameters = {}) => {
    const viaGlobal = await outcome(globalThis.fetch, route, parameters);
    const globalRequests = seen.splice(0);
    const viaUndici = await outcome(undiciFetch, route, parameters);

    expect(viaUndici).toEqual(viaGlobal);
    expect(seen).toEqual(globalRequests);
  });

  test("a refused connection: the same error, retryable, with the network code", async () => {
    const closed = await serveHandler(() => false);
    await closed.close();
    const viaGlobal = await outcome(globalThis.fetch, "GET /repos/acme/api", {}, closed.url);
    const viaUndici = await outcome(undiciFetch, "GET /repos/acme/api", {}, closed.url);

    expect(viaUndici).toEqual(viaGlobal);
    expect(viaUndici).toMatchObject({ error: { status: 500, retryable: true } });
    expect((viaUndici as { error: { reason: string } }).error.reason).toContain("ECONNREFUSED");
  });

  test("an aborted request: the same error as fetch's, without waiting for the answer (5 s)", async () => {
    const abortedWith = async (fetch: typeof globalThis.fetch) => {
      const controller = new AbortController();
      const pending = outcome(fetch, "GET /slow", { request: { signal: controller.signal } });
      setTimeout(() => controller.abort(), 50);
      return pending;
    };
    const viaGlobal = await abortedWith(globalThis.fetch);
    const viaUndici = await abortedWith(undiciFetch);

    expect(viaUndici).toEqual(viaGlobal);
    expect(viaUndici).toMatchObject({ error: { status: 500 } });
  });
});

// Failed workflow_job deliveries are redelivered once each, through GitHub's delivery
// log on the fake GitHub; a redelivery that fails again is asked for again only after
// a backoff, a bounded number of times.
describe("redelivery of failed deliveries", () => {
  const Octokit = createOctokitClass({ retryBaseMs: 1, rateLimitBaseMs: 1, maxRateLimitWaitSeconds: 60, maxRetries: 1 });

  let gh: FakeGitHub;
  let receiver: http.Server;
  const received: string[] = [];
  const INST = 1001;
  let clock = Date.now();
  const now = () => clock;

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        received.push(String(req.headers["x-github-delivery"]));
        res.writeHead(202).end("ok");
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", () => r()));
  });

  // A fresh GitHub per test: each test reads the whole delivery log.
  beforeEach(async () => {
    gh = await FakeGitHub.start();
    gh.webhookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/api/github/webhooks`;
    gh.addInstallation({ id: INST, account: "acme", permissions: { ...DEFAULT_PERMISSIONS } });
    gh.addRepository({ installationId: INST, owner: "acme", name: "api" });
    received.length = 0;
    clock = Date.now();
  });

  afterEach(async () => {
    await gh?.close();
  });

  afterAll(async () => {
    await new Promise<void>((r) => receiver.close(() => r()));
  });

  const appOctokit = () => new Octokit({ auth: { appId: gh.appId, privateKey: gh.privateKey }, baseUrl: gh.baseUrl });
  const options: Partial<RedeliveryOptions> = { now, backoffBaseMs: 60_000, backoffMaxMs: 240_000, maxAttempts: 3, perPage: 10 };

  async function failedDeliveries(n: number): Promise<string[]> {
    gh.hookDeliveries.ingressDown = true;
    const guids: string[] = [];
    for (let i = 0; i < n; i++) {
      const job = gh.queueJob({ owner: "acme", repo: "api", labels: ["modal"] });
      guids.push((await gh.deliverWorkflowJob("queued", job)).deliveryId);
    }
    gh.hookDeliveries.ingressDown = false;
    return guids;
  }

  /** Redelivery requests made in this test (ids), per GUID. */
  function requestsPerGuid(since: number): Map<string, number> {
    const counts = new Map<string, number>();
    for (const id of gh.hookDeliveries.redeliveryRequests.slice(since)) {
      const guid = gh.hookDeliveries.find(id)!.guid;
      counts.set(guid, (counts.get(guid) ?? 0) + 1);
    }
    return counts;
  }

  test("each failed workflow_job.queued delivery is redelivered once, across pages; other events and successes are left alone", async () => {
    const state = createRedeliveryState(now(), 10 * 60_000);
    const before = gh.hookDeliveries.redeliveryRequests.length;
    const failed = await failedDeliveries(25); // three pages of 10
    gh.hookDeliveries.ingressDown = true;
    await gh.deliverRaw("ping", JSON.stringify({ zen: "Keep it logically awesome." }));
    gh.hookDeliveries.ingressDown = false;
    await gh.deliverWorkflowJob("queued", gh.queueJob({ owner: "acme", repo: "api", labels: ["modal"] })); // succeeds

    const first = await redeliverFailedDeliveries(appOctokit(), state, { ...options, maxRequests: 30 });
    await gh.settle();
    expect(first).toMatchObject({ requested: 25, skipped: 0, failed: 0 });
    expect(first.listed).toBeGreaterThanOrEqual(27);
    expect([...requestsPerGuid(before).keys()].sort()).toEqual([...failed].sort());
    expect(received.filter((guid) => failed.includes(guid))).toHaveLength(25);

    // the next look sees the same failures again (overlap) but their GUIDs got through
    clock += 30_000;
    const second = await redeliverFailedDeliveries(appOctokit(), state, options);
    expect(second).toMatchObject({ requested: 0, skipped: 25 });
    expect(state.asked.size).toBe(0);
    expect(gh.hookDeliveries.redeliveryRequests.length - before).toBe(25);
    gh.assertNoViolations();
  });

  test("failed in_progress and completed deliveries are not asked for: the reconciler reads runners and jobs itself", async () => {
    const state = createRedeliveryState(now(), 10 * 60_000);
    const before = gh.hookDeliveries.redeliveryRequests.length;
    const [queued] = await failedDeliveries(1);
    gh.hookDeliveries.ingressDown = true;
    const job = gh.queueJob({ owner: "acme", repo: "api", labels: ["modal"] });
    await gh.deliverWorkflowJob("in_progress", job);
    await gh.deliverWorkflowJob("completed", job);
    gh.hookDeliveries.ingressDown = false;

    const summary = await redeliverFailedDeliveries(appOctokit(), state, options);
    await gh.settle();
    expect(summary).toMatchObject({ requested: 1, failed: 0 });
    expect([...requestsPerGuid(before).keys()]).toEqual([queued]);
    gh.assertNoViolations();
  });

  test("at most maxRequests redeliveries per call; the rest are asked for by the next calls, each once", async () => {
    const state = createRedeliveryState(now(), 10 * 60_000);
    const before = gh.hookDeliveries.redeliveryRequests.length;
    const failed = await failedDeliveries(25);
    const requested: number[] = [];
    for (let call = 0; call < 4; call++) {
      requested.push((await redeliverFailedDeliveries(appOctokit(), state, { ...options, maxRequests: 10 })).requested);
      await gh.settle();
      clock += 30_000;
    }
    expect(requested).toEqual([10, 10, 5, 0]);
    const perGuid = requestsPerGuid(before);
    expect([...perGuid.keys()].sort()).toEqual([...failed].sort());
    expect([...perGuid.values()].every((count) => count === 1)).toBe(true);
    gh.assertNoViolations();
  });

  test("a redelivery that fails again is asked for again after a doubling backoff, then given up", async () => {
    const state = createRedeliveryState(now(), 10 * 60_000);
    const before = gh.hookDeliveries.redeliveryRequests.length;
    const [guid] = await failedDeliveries(1);
    gh.hookDeliveries.ingressDown = true; // still down: every redelivery fails

    const asks: number[] = [];
    for (let minute = 0; minute <= 10; minute++) {
      const summary = await redeliverFailedDeliveries(appOctokit(), state, { ...options, overlapMs: 10 * 60_000 });
      await gh.settle();
      asks.push(summary.requested);
      clock += 60_000;
    }
    // asked at once; its failure is seen a minute later, when the 1-minute backoff is over;
    // the second failure waits 2 minutes; then never again (maxAttempts 3)
    expect(asks).toEqual([1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    expect(requestsPerGuid(before).get(guid!)).toBe(3);
    gh.assertNoViolations();
  });

  test("a refused request for redelivery is counted as failed and asked again after the backoff", async () => {
    const state = createRedeliveryState(now(), 10 * 60_000);
    await failedDeliveries(1);
    gh.failNext({ method: "POST", route: "/app/hook/deliveries/{delivery_id}/attempts" }, { status: 422 });
    const first = await redeliverFailedDeliveries(appOctokit(), state, options);
    expect(first).toMatchObject({ requested: 0, failed: 1 });
    expect(first.failures[0]).toMatch(/422/);
    const soon = await redeliverFailedDeliveries(appOctokit(), state, options);
    expect(soon).toMatchObject({ requested: 0, failed: 0 });
    clock += 60_000;
    const later = await redeliverFailedDeliveries(appOctokit(), state, options);
    expect(later).toMatchObject({ requested: 1, failed: 0 });
    await gh.settle();
  });

  test("deliveries older than the last look are not listed again", async () => {
    await failedDeliveries(2);
    const state = createRedeliveryState(now() + 120_000, 0); // as if the last look were after them
    const summary = await redeliverFailedDeliveries(appOctokit(), state, options);
    expect(summary).toMatchObject({ listed: 0, requested: 0 });
  });

  test("the state stays bounded", async () => {
    const state = createRedeliveryState(now(), 10 * 60_000);
    gh.hookDeliveries.ingressDown = true;
    await failedDeliveries(5);
    gh.hookDeliveries.ingressDown = true;
    await redeliverFailedDeliveries(appOctokit(), state, { ...options, maxTracked: 3 });
    await gh.settle();
    expect(state.asked.size).toBe(3);
  });
});
