// The fake GitHub, proved with the real Octokit that Probot ships: its routes, its
// delivery log and its enforced secondary limits, checked against GitHub's OpenAPI
// description. One file (one load of the modules) for these cases.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { verify } from "@octokit/webhooks-methods";
import { pino } from "pino";
import { Probot, ProbotOctokit, createNodeMiddleware } from "probot";
import { DEFAULT_PERMISSIONS, FakeGitHub, type FakeJob, decodeJitConfig } from "@modal-github-runner/simulator/fake-github";
import { openApi } from "@modal-github-runner/simulator/github/openapi";
import { jobObject } from "@modal-github-runner/simulator/github/shapes";
import { SECONDARY_RATE_LIMIT_MESSAGE } from "@modal-github-runner/simulator/github/secondary-limits";

// Proves the fake GitHub with the real Octokit that Probot ships.
describe("fake github", () => {
  // Throttling off (the object form does not turn it off in Probot 14.3.2), fast retries.
  const TestOctokit = ProbotOctokit.defaults((o: Record<string, unknown>) => ({
    ...o,
    throttle: { ...(o.throttle as object), enabled: false },
    retry: { ...(o.retry as object), retryAfterBaseValue: 1, doNotRetry: [400, 401, 403, 404, 409, 422, 451] },
  }));
  type Octo = InstanceType<typeof TestOctokit>;

  interface Received {
    headers: http.IncomingHttpHeaders;
    body: string;
  }

  /** A webhook receiver standing in for the App. */
  async function startReceiver(): Promise<{ url: string; received: Received[]; close: () => Promise<void> }> {
    const received: Received[] = [];
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
        res.writeHead(202, { "content-type": "text/plain" }).end("Accepted");
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const { port } = server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}/api/github/webhooks`,
      received,
      close: () => new Promise<void>((r) => server.close(() => r())),
    };
  }

  let gh: FakeGitHub;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const ORG_INST = 1001;
  const USER_INST = 2002;
  const LIMITED_INST = 3003;

  function installationOctokit(installationId: number): Octo {
    return new TestOctokit({ auth: { appId: gh.appId, privateKey: gh.privateKey, installationId }, baseUrl: gh.baseUrl, log: silentLog() });
  }

  function silentLog(): { debug: () => void; info: () => void; warn: () => void; error: () => void } {
    const noop = (): void => {};
    return { debug: noop, info: noop, warn: noop, error: noop };
  }

  async function expectStatus(
    p: Promise<unknown>,
    status: number,
  ): Promise<{ response?: { data: unknown; headers: Record<string, string> } }> {
    try {
      await p;
    } catch (e) {
      const err = e as { status?: number; response?: { data: unknown; headers: Record<string, string> } };
      expect(err.status).toBe(status);
      return err;
    }
    throw new Error(`expected HTTP ${status}, the request succeeded`);
  }

  beforeAll(async () => {
    receiver = await startReceiver();
    gh = await FakeGitHub.start();
    gh.webhookUrl = receiver.url;
    gh.addInstallation({ id: ORG_INST, account: "acme", permissions: { ...DEFAULT_PERMISSIONS, contents: "read" } });
    gh.addRepository({ installationId: ORG_INST, owner: "acme", name: "api" });
    gh.addRepository({ installationId: ORG_INST, owner: "acme", name: "site", visibility: "public" });
    gh.addRepository({ installationId: ORG_INST, owner: "acme", name: "secret-sauce" });
    gh.addRunnerGroup("acme", { id: 7, name: "gpu", visibility: "selected", selectedRepositories: ["api"] });
    gh.addInstallation({ id: USER_INST, account: "alice", accountType: "User" });
    gh.addRepository({ installationId: USER_INST, owner: "alice", name: "dotfiles" });
    gh.addInstallation({ id: LIMITED_INST, account: "tiny", permissions: { actions: "read", metadata: "read" } });
    gh.addRepository({ installationId: LIMITED_INST, owner: "tiny", name: "app" });
    gh.addFile("acme", "api", ".github/modal-runners.yml", "image: debian\ncpu: 2\n");
  });

  afterAll(async () => {
    await gh?.close();
    await receiver?.close();
  });

  test("the App mints an installation token with its JWT, through Probot on a GHE base URL", async () => {
    const probot = new Probot({
      appId: gh.appId,
      privateKey: gh.privateKey,
      baseUrl: gh.baseUrl,
      Octokit: TestOctokit,
      log: pino({ level: "silent" }),
    });
    const octokit = await probot.auth(ORG_INST);
    const { data } = await octokit.request("GET /repos/{owner}/{repo}", { owner: "acme", repo: "api" });
    expect(data.full_name).toBe("acme/api");
    expect(data.html_url).toBe(`http://${gh.host}/acme/api`);

    const mint = gh.requests.filter((r) => r.route === "/app/installations/{installation_id}/access_tokens");
    expect(mint.length).toBeGreaterThanOrEqual(1);
    expect(mint.at(-1)).toMatchObject({ method: "POST", status: 201, installationId: ORG_INST });
    const repoReq = gh.requests.filter((r) => r.route === "/repos/{owner}/{repo}").at(-1);
    expect(repoReq).toMatchObject({ status: 200, installationId: ORG_INST, path: "/repos/acme/api" });

    // the app JWT lists installations (paginated, with a GitHub-style Link header)
    const app = new TestOctokit({ auth: { appId: gh.appId, privateKey: gh.privateKey }, baseUrl: gh.baseUrl, log: silentLog() });
    const page1 = await app.request("GET /app/installations", { per_page: 2 });
    expect(page1.data.map((i) => i.id)).toEqual([ORG_INST, USER_INST]);
    expect(page1.headers.link).toContain(`<${gh.baseUrl}/app/installations?per_page=2&page=2>; rel="next"`);
    const all = await app.paginate("GET /app/installations", { per_page: 1 });
    expect(all.map((i) => i.id)).toEqual([ORG_INST, USER_INST, LIMITED_INST]);
    const { data: token } = await app.request("POST /app/installations/{installation_id}/access_tokens", { installation_id: USER_INST });
    expect(token.token).toMatch(/^ghs_[A-Za-z0-9]{36}$/);
    expect(Date.parse(token.expires_at) - Date.now()).toBeGreaterThan(59 * 60_000);
    await expectStatus(app.request("POST /app/installations/{installation_id}/access_tokens", { installation_id: 999 }), 404);
    expect((await app.request("GET /orgs/{org}/installation", { org: "ACME" })).data.id).toBe(ORG_INST);
    expect((await app.request("GET /repos/{owner}/{repo}/installation", { owner: "alice", repo: "dotfiles" })).data.id).toBe(USER_INST);
    expect((await app.request("GET /app")).data?.id).toBe(gh.appId);

    // a forged JWT and a bad token are 401
    const forged = new TestOctokit({ auth: { appId: gh.appId + 1, privateKey: gh.privateKey }, baseUrl: gh.baseUrl, log: silentLog() });
    await expectStatus(forged.request("GET /app/installations"), 401);
    const bad = new ProbotOctokit({ auth: "ghs_nope", baseUrl: gh.baseUrl, throttle: { enabled: false } });
    await expectStatus(bad.request("GET /repos/{owner}/{repo}", { owner: "acme", repo: "api" }), 401);
    gh.assertNoViolations();
  });

  test("JIT configs at org and repo level, duplicate names, permissions, busy runners", async () => {
    const acme = installationOctokit(ORG_INST);
    const { data: org } = await acme.request("POST /orgs/{org}/actions/runners/generate-jitconfig", {
      org: "acme",
      name: "modal-1",
      runner_group_id: 1,
      labels: ["self-hosted", "modal"],
    });
    expect(org.runner).toMatchObject({ name: "modal-1", os: "Linux", status: "offline", busy: false, ephemeral: true, runner_group_id: 1 });
    expect(org.runner.labels.map((l) => l.name)).toEqual(["self-hosted", "modal"]);
    const decoded = decodeJitConfig(org.encoded_jit_config);
    expect(decoded).toMatchObject({ runnerId: org.runner.id, runnerName: "modal-1", ephemeral: true });

    // same name in the same scope → 409; the same name at repo scope is another runner
    const dup = await expectStatus(
      acme.request("POST /orgs/{org}/actions/runners/generate-jitconfig", {
        org: "acme",
        name: "modal-1",
        runner_group_id: 1,
        labels: ["modal"],
      }),
      409,
    );
    expect((dup.response?.data as { message: string }).message).toBe("Already exists - A runner with the name modal-1 already exists.");
    const { data: repo } = await acme.request("POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig", {
      owner: "acme",
      repo: "api",
      name: "modal-1",
      runner_group_id: 1,
      labels: ["modal"],
    });
    expect(repo.runner.id).not.toBe(org.runner.id);
    await expectStatus(
      acme.request("POST /orgs/{org}/actions/runners/generate-jitconfig", {
        org: "acme",
        name: "x",
        runner_group_id: 99,
        labels: ["modal"],
      }),
      404,
    );

    // listing, with the name filter
    const { data: listed } = await acme.request("GET /orgs/{org}/actions/runners", { org: "acme", name: "modal-1" });
    expect(listed.total_count).toBe(1);
    expect(listed.runners[0]?.id).toBe(org.runner.id);

    // a busy runner cannot be deleted; once idle it can
    const runner = gh.connectRunner(org.encoded_jit_config);
    expect(runner?.status).toBe("online");
    expect(gh.connectRunner(org.encoded_jit_config)).toBeUndefined(); // one session per JIT config
    const job = gh.queueJob({ owner: "acme", repo: "api", labels: ["self-hosted", "modal"] });
    expect(gh.acquireJob(org.runner.id)?.id).toBe(job.id);
    const busy = await expectStatus(
      acme.request("DELETE /orgs/{org}/actions/runners/{runner_id}", { org: "acme", runner_id: org.runner.id }),
      422,
    );
    expect((busy.response?.data as { message: string }).message).toBe('Bad request - Runner "modal-1" is still running a job".');
    gh.completeJob(job.id);
    expect(gh.runners().map((r) => r.id)).not.toContain(org.runner.id); // ephemeral: gone after its job
    await expectStatus(acme.request("DELETE /orgs/{org}/actions/runners/{runner_id}", { org: "acme", runner_id: org.runner.id }), 404);
    const del = await acme.request("DELETE /repos/{owner}/{repo}/actions/runners/{runner_id}", {
      owner: "acme",
      repo: "api",
      runner_id: repo.runner.id,
    });
    expect(del.status).toBe(204);

    // another account's org/repo is 404; a missing permission is 403
    await expectStatus(acme.request("GET /repos/{owner}/{repo}/actions/runners", { owner: "alice", repo: "dotfiles" }), 404);
    await expectStatus(acme.request("GET /orgs/{org}/actions/runners", { org: "tiny" }), 404);
    const tiny = installationOctokit(LIMITED_INST);
    const denied = await expectStatus(
      tiny.request("POST /orgs/{org}/actions/runners/generate-jitconfig", { org: "tiny", name: "t", runner_group_id: 1, labels: ["x"] }),
      403,
    );
    expect((denied.response?.data as { message: string }).message).toBe("Resource not accessible by integration");
    await expectStatus(
      tiny.request("POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig", {
        owner: "tiny",
        repo: "app",
        name: "t",
        runner_group_id: 1,
        labels: ["x"],
      }),
      403,
    );
    await gh.settle();
    gh.assertNoViolations();
  });

  test("a request that does not match GitHub's description is answered 422 and recorded", async () => {
    const acme = installationOctokit(ORG_INST);
    const before = gh.violations.length;
    await expectStatus(
      acme.request("POST /orgs/{org}/actions/runners/generate-jitconfig", {
        org: "acme",
        name: "bad",
        runner_group_id: 1,
        labels: "modal" as unknown as string[],
      }),
      422,
    );
    await expectStatus(
      acme.request("POST /orgs/{org}/actions/runners/generate-jitconfig", { org: "acme", name: "bad", runner_group_id: 1, labels: [] }),
      422,
    );
    await expectStatus(
      acme.request("GET /orgs/{org}/actions/runners", { org: "acme", per_page: "lots" as unknown as number, colour: "red" }),
      422,
    );
    await expectStatus(acme.request("GET /repos/{owner}/{repo}/actions/artifacts", { owner: "acme", repo: "api" }), 404);
    const added = gh.violations.slice(before);
    expect(added).toEqual([
      "POST /orgs/{org}/actions/runners/generate-jitconfig: body/labels must be array",
      "POST /orgs/{org}/actions/runners/generate-jitconfig: body/labels must NOT have fewer than 1 items",
      "GET /orgs/{org}/actions/runners: query/colour is not a known parameter",
      "GET /orgs/{org}/actions/runners: query/per_page must be integer",
      "GET /repos/{owner}/{repo}/actions/artifacts: not implemented by the fake",
    ]);
    expect(() => gh.assertNoViolations()).toThrow(/body\/labels must be array/);
    gh.violations.length = before;
  });

  test("jobs, runs, contents, runner groups, conditional requests and rate-limit headers", async () => {
    const acme = installationOctokit(ORG_INST);
    const first = gh.queueJob({
      owner: "acme",
      repo: "site",
      labels: ["self-hosted", "modal"],
      name: "lint",
      createdAt: new Date(Date.now() - 60_000),
    });
    const second = gh.queueJob({ owner: "acme", repo: "site", labels: ["self-hosted", "modal"], name: "test", runId: first.runId });

    const job = await acme.request("GET /repos/{owner}/{repo}/actions/jobs/{job_id}", { owner: "acme", repo: "site", job_id: first.id });
    expect(job.data).toMatchObject({ id: first.id, status: "queued", labels: ["self-hosted", "modal"], runner_id: null });
    expect(job.headers.etag).toMatch(/^W\/"/);
    expect(Number(job.headers["x-ratelimit-remaining"])).toBeLessThan(Number(job.headers["x-ratelimit-limit"]));
    await expectStatus(
      acme.request("GET /repos/{owner}/{repo}/actions/jobs/{job_id}", {
        owner: "acme",
        repo: "site",
        job_id: first.id,
        headers: { "if-none-match": job.headers.etag as string },
      }),
      304,
    );
    expect(gh.requests.at(-1)).toMatchObject({ status: 304, route: "/repos/{owner}/{repo}/actions/jobs/{job_id}" });
    await expectStatus(
      acme.request("GET /repos/{owner}/{repo}/actions/jobs/{job_id}", { owner: "acme", repo: "api", job_id: first.id }),
      404,
    );

    const queued = await acme.request("GET /repos/{owner}/{repo}/actions/runs", { owner: "acme", repo: "site", status: "queued" });
    expect(queued.data.workflow_runs.map((r) => r.id)).toEqual([first.runId]);
    const jobs = await acme.request("GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs", {
      owner: "acme",
      repo: "site",
      run_id: first.runId,
      per_page: 1,
    });
    expect(jobs.data.total_count).toBe(2);
    expect(jobs.headers.link).toContain('rel="next"');
    const allJobs = await acme.paginate("GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs", {
      owner: "acme",
      repo: "site",
      run_id: first.runId,
      per_page: 1,
    });
    expect(allJobs.map((j) => j.id)).toEqual([first.id, second.id]);
    const since = new Date(Date.now() - 3_600_000).toISOString();
    const created = await acme.request("GET /repos/{owner}/{repo}/actions/runs", { owner: "acme", repo: "site", created: `>=${since}` });
    expect(created.data.total_count).toBe(1);

    const { data: raw } = await acme.request("GET /repos/{owner}/{repo}/contents/{path}", {
      owner: "acme",
      repo: "api",
      path: ".github/modal-runners.yml",
      mediaType: { format: "raw" },
    });
    expect(raw).toBe("image: debian\ncpu: 2\n");
    const { data: file } = await acme.request("GET /repos/{owner}/{repo}/contents/{path}", {
      owner: "acme",
      repo: "api",
      path: ".github/modal-runners.yml",
    });
    expect(Buffer.from((file as { content: string }).content, "base64").toString()).toBe("image: debian\ncpu: 2\n");
    // the default permissions have no contents: read, like a GitHub App that did not ask for it
    gh.addFile("tiny", "app", "x.yml", "a: 1\n");
    await expectStatus(
      installationOctokit(LIMITED_INST).request("GET /repos/{owner}/{repo}/contents/{path}", { owner: "tiny", repo: "app", path: "x.yml" }),
      403,
    );
    await expectStatus(acme.request("GET /repos/{owner}/{repo}/contents/{path}", { owner: "acme", repo: "api", path: "nope.yml" }), 404);

    const groups = await acme.request("GET /orgs/{org}/actions/runner-groups", { org: "acme" });
    expect(groups.data.runner_groups.map((g) => [g.id, g.name])).toEqual([
      [1, "Default"],
      [7, "gpu"],
    ]);
    const repos = await acme.paginate("GET /installation/repositories", { per_page: 2 });
    expect(repos.map((r) => r.full_name)).toEqual(["acme/api", "acme/site", "acme/secret-sauce"]);

    // faults: a 403 secondary rate limit with retry-after, then a 502 the retry plugin retries
    gh.failNext({ method: "GET", route: "/repos/{owner}/{repo}/actions/jobs/{job_id}" }, { status: 403, headers: { "retry-after": "1" } });
    const limited = await expectStatus(
      acme.request("GET /repos/{owner}/{repo}/actions/jobs/{job_id}", { owner: "acme", repo: "site", job_id: first.id }),
      403,
    );
    expect(limited.response?.headers["retry-after"]).toBe("1");
    gh.failNext({ route: /jobs\/\{job_id\}$/ }, { status: 502 });
    const retried = await acme.request("GET /repos/{owner}/{repo}/actions/jobs/{job_id}", {
      owner: "acme",
      repo: "site",
      job_id: first.id,
    });
    expect(retried.status).toBe(200);
    expect(gh.requests.slice(-2).map((r) => r.status)).toEqual([502, 200]);
    gh.assertNoViolations();
  });

  test("deliveries are signed, built from GitHub's examples, and match the webhook schema", async () => {
    const job = gh.queueJob({ owner: "acme", repo: "api", labels: ["self-hosted", "gpu"], name: "train" });
    const result = await gh.deliverWorkflowJob("queued", job);
    expect(result.status).toBe(202);
    const got = receiver.received.at(-1) as Received;
    expect(got.headers["x-github-event"]).toBe("workflow_job");
    expect(got.headers["x-github-delivery"]).toBe(result.deliveryId);
    expect(got.headers["x-github-hook-installation-target-type"]).toBe("integration");
    expect(await verify(gh.webhookSecret, got.body, got.headers["x-hub-signature-256"] as string)).toBe(true);
    const payload = JSON.parse(got.body) as Record<string, Record<string, unknown>>;
    expect(payload.workflow_job).toMatchObject({
      id: job.id,
      run_id: job.runId,
      status: "queued",
      labels: ["self-hosted", "gpu"],
      runner_id: null,
    });
    expect(payload.repository).toMatchObject({ full_name: "acme/api", private: true, url: `${gh.baseUrl}/repos/acme/api` });
    expect(payload.organization).toMatchObject({ login: "acme" });
    expect(payload.installation).toMatchObject({ id: ORG_INST });
    expect(got.body).not.toMatch(/Codertocat|octo-org|Octocoders|api\.github\.com/);

    const wrong = await gh.deliverWorkflowJob("queued", job, { signature: "wrong", deliveryId: "redelivery-1" });
    expect(wrong.deliveryId).toBe("redelivery-1");
    expect(
      await verify(
        gh.webhookSecret,
        receiver.received.at(-1)?.body ?? "",
        receiver.received.at(-1)?.headers["x-hub-signature-256"] as string,
      ),
    ).toBe(false);
    await gh.deliverWorkflowJob("waiting", job, { signature: "missing", omitInstallation: true });
    expect(receiver.received.at(-1)?.headers["x-hub-signature-256"]).toBeUndefined();
    expect(JSON.parse(receiver.received.at(-1)?.body ?? "{}")).not.toHaveProperty("installation");

    // a user-owned repository has no organization key
    const userJob = gh.queueJob({ owner: "alice", repo: "dotfiles", labels: ["self-hosted"] });
    await gh.deliverWorkflowJob("queued", userJob);
    expect(JSON.parse(receiver.received.at(-1)?.body ?? "{}")).not.toHaveProperty("organization");
    await gh.deliverRaw("workflow_job", "{not json");
    expect(receiver.received.at(-1)?.body).toBe("{not json");
    gh.completeJob(job.id, "failure");
    gh.completeJob(userJob.id);
    await gh.settle();
    gh.assertNoViolations();
  });

  test("acquireJob respects labels and scope, and sends in_progress", async () => {
    const acme = installationOctokit(ORG_INST);
    const mk = async (name: string, labels: string[], group = 1, repo?: string): Promise<number> => {
      const { data } = repo
        ? await acme.request("POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig", {
            owner: "acme",
            repo,
            name,
            runner_group_id: group,
            labels,
          })
        : await acme.request("POST /orgs/{org}/actions/runners/generate-jitconfig", { org: "acme", name, runner_group_id: group, labels });
      const runner = gh.connectRunner(data.encoded_jit_config);
      if (!runner) throw new Error("runner did not connect");
      return runner.id;
    };
    for (const j of gh.jobs()) if (j.status !== "completed") gh.cancelJob(j.id);
    await gh.settle();

    const gpuJob = gh.queueJob({ owner: "acme", repo: "secret-sauce", labels: ["self-hosted", "GPU"] });
    const siteJob = gh.queueJob({ owner: "acme", repo: "site", labels: ["modal"] });
    const userJob = gh.queueJob({ owner: "alice", repo: "dotfiles", labels: ["modal"] });

    const cpu = await mk("cpu-1", ["modal"]);
    expect(gh.acquireJob(cpu)?.id).toBe(siteJob.id); // labels: the gpu job needs "gpu"; "self-hosted" is implied
    const gpuSelected = await mk("gpu-1", ["gpu"], 7); // group 7 serves acme/api only
    expect(gh.acquireJob(gpuSelected)).toBeUndefined();
    const gpuRepo = await mk("gpu-2", ["gpu"], 1, "api"); // a repo runner of another repository
    expect(gh.acquireJob(gpuRepo)).toBeUndefined();
    const gpuOrg = await mk("gpu-3", ["Gpu", "extra"]);
    const taken = gh.acquireJob(gpuOrg) as FakeJob;
    expect(taken.id).toBe(gpuJob.id);
    expect(taken).toMatchObject({
      status: "in_progress",
      runnerId: gpuOrg,
      runnerName: "gpu-3",
      runnerGroupId: 1,
      runnerGroupName: "Default",
    });
    expect(gh.runners().find((r) => r.id === gpuOrg)?.busy).toBe(true);
    expect(userJob.status).toBe("queued"); // no acme runner may take alice's job

    await gh.settle();
    const inProgress = receiver.received
      .filter((r) => r.body.startsWith('{"'))
      .map((r) => JSON.parse(r.body) as { action: string; workflow_job: { id: number; runner_name: string | null } })
      .filter((p) => p.action === "in_progress" && p.workflow_job.id === gpuJob.id);
    expect(inProgress).toHaveLength(1);
    expect(inProgress[0]?.workflow_job.runner_name).toBe("gpu-3");

    // the job's API view follows, and cancelling keeps the runner busy until it exits
    const view = await acme.request("GET /repos/{owner}/{repo}/actions/jobs/{job_id}", {
      owner: "acme",
      repo: "secret-sauce",
      job_id: gpuJob.id,
    });
    expect(view.data).toMatchObject({ status: "in_progress", runner_id: gpuOrg, runner_name: "gpu-3" });
    gh.cancelJob(gpuJob.id);
    expect(gh.runners().find((r) => r.id === gpuOrg)?.busy).toBe(true);
    gh.releaseRunner(gpuOrg);
    expect(gh.runners().find((r) => r.id === gpuOrg)).toBeUndefined();
    gh.disconnectRunner(cpu);
    expect(gh.runners().find((r) => r.id === cpu)).toMatchObject({ status: "offline", busy: true });
    const runs = await acme.request("GET /repos/{owner}/{repo}/actions/runs", { owner: "acme", repo: "secret-sauce", status: "cancelled" });
    expect(runs.data.workflow_runs.map((r) => r.id)).toEqual([gpuJob.runId]);
    await gh.settle();
    gh.assertNoViolations();
  });

  test("a Probot app receives the fake's delivery and calls back with the installation from the payload", async () => {
    const seen: number[] = [];
    const probot = new Probot({
      appId: gh.appId,
      privateKey: gh.privateKey,
      baseUrl: gh.baseUrl,
      secret: gh.webhookSecret,
      Octokit: TestOctokit,
      log: pino({ level: "silent" }),
    });
    const middleware = await createNodeMiddleware(
      (app) => {
        app.on("workflow_job.queued", async (context) => {
          const { data } = await context.octokit.request(
            "GET /repos/{owner}/{repo}/actions/jobs/{job_id}",
            context.repo({ job_id: context.payload.workflow_job.id }),
          );
          seen.push(Number(data.id));
        });
      },
      { probot, webhooksPath: "/api/github/webhooks" },
    );
    const server = http.createServer((req, res) => {
      void middleware(req, res, () => res.writeHead(404).end());
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const previous = gh.webhookUrl;
    try {
      gh.webhookUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/github/webhooks`;
      const job = gh.queueJob({ owner: "alice", repo: "dotfiles", labels: ["self-hosted"] });
      const ok = await gh.deliverWorkflowJob("queued", job);
      expect(ok.status).toBeLessThan(300);
      expect(seen).toEqual([job.id]);
      const forged = await gh.deliverWorkflowJob("queued", job, { signature: "wrong" });
      expect(forged.status).toBe(400);
      expect(seen).toEqual([job.id]);
    } finally {
      gh.webhookUrl = previous;
      await new Promise<void>((r) => server.close(() => r()));
    }
    gh.assertNoViolations();
  });

  test("the OpenAPI checks are not vacuous: a drifted response or payload is caught", () => {
    const api = openApi();
    const match = api.match("GET", "/repos/acme/api/actions/jobs/123");
    expect(match?.template).toBe("/repos/{owner}/{repo}/actions/jobs/{job_id}");
    expect(match?.params).toEqual({ owner: "acme", repo: "api", job_id: "123" });
    if (!match) throw new Error("no match");
    const job = gh.queueJob({ owner: "acme", repo: "api", labels: ["x"] });
    const good = jobObject({ api: gh.baseUrl, web: `http://${gh.host}` }, job);
    expect(api.checkResponse("GET", match, 200, good)).toEqual([]);
    const drifted: Record<string, unknown> = { ...good, id: String(job.id), status: "sleeping" };
    delete drifted.run_id;
    expect(api.checkResponse("GET", match, 200, drifted)).toEqual([
      "response 200 must have required property 'run_id'",
      "response 200/id must be integer",
      'response 200/status must be one of ["queued","in_progress","completed","waiting","requested","pending"]',
    ]);
    gh.cancelJob(job.id);
    expect(api.checkResponse("GET", match, 201, {})).toEqual(["response status 201 is not documented"]);
    const contents = api.match("GET", "/repos/acme/api/contents/.github%2Fa%20b.yml");
    expect(contents?.params.path).toBe(".github/a b.yml");
    expect(api.match("POST", "/orgs/acme/actions/runners/generate-jitconfig")?.template).toBe(
      "/orgs/{org}/actions/runners/generate-jitconfig",
    );
    expect(api.checkWebhook("workflow_job", "queued", { action: "queued" })).toEqual(
      expect.arrayContaining(["payload must have required property 'workflow_job'"]),
    );
  });

  test("latencyMs delays every REST answer", async () => {
    const acme = installationOctokit(ORG_INST);
    await acme.request("GET /repos/{owner}/{repo}", { owner: "acme", repo: "api" }); // token minted outside the timing
    gh.latencyMs = 80;
    try {
      const t0 = performance.now();
      await acme.request("GET /repos/{owner}/{repo}", { owner: "acme", repo: "api" });
      expect(performance.now() - t0).toBeGreaterThanOrEqual(75);
    } finally {
      gh.latencyMs = 0;
    }
  });

  describe("without the OpenAPI checks (the demo)", () => {
    test("routes by the fake's own table: the most literal template wins, an unserved path is a 404 and a violation", async () => {
      const plain = await FakeGitHub.start({ checkOpenApi: false });
      try {
        const inst = plain.addInstallation({ id: 7007, account: "plain-org" });
        plain.addRepository({ installationId: inst.id, owner: "plain-org", name: "app" });
        const octokit = new TestOctokit({
          auth: { appId: plain.appId, privateKey: plain.privateKey, installationId: inst.id },
          baseUrl: plain.baseUrl,
          log: silentLog(),
        });
        const { data } = await octokit.request("POST /orgs/{org}/actions/runners/generate-jitconfig", {
          org: "plain-org",
          name: "modal-1-0",
          runner_group_id: 1,
          labels: ["modal"],
        });
        expect(decodeJitConfig(data.encoded_jit_config)?.runnerName).toBe("modal-1-0");
        const { data: one } = await octokit.request("GET /orgs/{org}/actions/runners/{runner_id}", {
          org: "plain-org",
          runner_id: data.runner.id,
        });
        expect(one.name).toBe("modal-1-0");
        await expectStatus(octokit.request("GET /orgs/{org}/hooks", { org: "plain-org" }), 404);
        expect(plain.violations).toEqual(["GET /orgs/plain-org/hooks: not implemented by the fake"]);
      } finally {
        await plain.close();
      }
    });
  });
});

// The fake's delivery log and enforced secondary limits, through real Octokit and
// checked against GitHub's OpenAPI description (assertNoViolations).
describe("delivery log", () => {
  const TestOctokit = ProbotOctokit.defaults((o: Record<string, unknown>) => ({
    ...o,
    throttle: { ...(o.throttle as object), enabled: false },
    retry: { ...(o.retry as object), enabled: false },
  }));

  interface Received {
    guid: string;
    event: string;
  }

  let gh: FakeGitHub;
  let receiver: http.Server;
  const received: Received[] = [];
  const INST = 1001;

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        received.push({ guid: String(req.headers["x-github-delivery"]), event: String(req.headers["x-github-event"]) });
        res.writeHead(req.headers["x-github-event"] === "boom" ? 500 : 202).end("ok");
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", () => r()));
    gh = await FakeGitHub.start();
    gh.webhookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/api/github/webhooks`;
    gh.addInstallation({ id: INST, account: "acme", permissions: { ...DEFAULT_PERMISSIONS } });
    gh.addRepository({ installationId: INST, owner: "acme", name: "api" });
  });

  afterAll(async () => {
    await gh?.close();
    await new Promise<void>((r) => receiver.close(() => r()));
  });

  const appOctokit = () => new TestOctokit({ auth: { appId: gh.appId, privateKey: gh.privateKey }, baseUrl: gh.baseUrl });
  const installationOctokit = () =>
    new TestOctokit({ auth: { appId: gh.appId, privateKey: gh.privateKey, installationId: INST }, baseUrl: gh.baseUrl });

  test("every delivery is logged; the log pages newest first by cursor, filters by status, and redelivers with the same GUID", async () => {
    const job = gh.queueJob({ owner: "acme", repo: "api", labels: ["modal"] });
    const ok = await gh.deliverWorkflowJob("queued", job);
    gh.hookDeliveries.ingressDown = true;
    const down = await gh.deliverWorkflowJob("queued", job);
    gh.hookDeliveries.ingressDown = false;
    await gh.deliverRaw("boom", JSON.stringify({ action: "x" }));
    expect(received.map((r) => r.guid)).not.toContain(down.deliveryId); // never reached the App

    const app = appOctokit();
    const page1 = await app.request("GET /app/hook/deliveries", { per_page: 2 });
    expect(page1.data.map((d) => d.event)).toEqual(["boom", "workflow_job"]);
    expect(page1.data[1]).toMatchObject({
      guid: down.deliveryId,
      status_code: 0,
      redelivery: false,
      action: "queued",
      installation_id: INST,
      repository_id: gh.repositories()[0]!.id,
    });
    const next = /<([^>]+)>; rel="next"/.exec(String(page1.headers.link))![1]!;
    const cursor = new URL(next).searchParams.get("cursor")!;
    const page2 = await app.request("GET /app/hook/deliveries", { per_page: 2, cursor });
    expect(page2.data.map((d) => [d.guid, d.status_code])).toEqual([[ok.deliveryId, 202]]);
    expect(page2.headers.link).toBeUndefined();

    const failures = await app.request("GET /app/hook/deliveries", { status: "failure" });
    expect(failures.data.map((d) => d.status_code)).toEqual([500, 0]);
    const successes = await app.request("GET /app/hook/deliveries", { status: "success" });
    expect(successes.data.map((d) => d.guid)).toEqual([ok.deliveryId]);

    const failedId = Number(page1.data[1]!.id);
    const one = await app.request("GET /app/hook/deliveries/{delivery_id}", { delivery_id: failedId });
    expect((one.data.request.payload as { workflow_job: { id: number } }).workflow_job.id).toBe(job.id);

    const attempt = await app.request("POST /app/hook/deliveries/{delivery_id}/attempts", { delivery_id: failedId });
    expect(attempt.status).toBe(202);
    await gh.settle();
    expect(received.filter((r) => r.guid === down.deliveryId)).toHaveLength(1);
    const newest = (await app.request("GET /app/hook/deliveries", { per_page: 1 })).data[0]!;
    expect(newest).toMatchObject({ guid: down.deliveryId, redelivery: true, status_code: 202 });
    expect(gh.hookDeliveries.redeliveryRequests).toEqual([failedId]);

    await expect(app.request("POST /app/hook/deliveries/{delivery_id}/attempts", { delivery_id: 1 })).rejects.toMatchObject({
      status: 404,
    });
    gh.assertNoViolations();
  });

  test("secondary limits, when enabled: 900 points a window per installation, then 403 with retry-after, counted by route", async () => {
    const octokit = installationOctokit();
    await octokit.request("GET /repos/{owner}/{repo}", { owner: "acme", repo: "api" }); // mint the token first
    gh.secondaryLimits.enable({ windowMs: 60_000 });
    try {
      const names = Array.from({ length: 181 }, (_, i) => `limit-${i}`);
      const results = await Promise.allSettled(
        names.map((name) =>
          octokit.request("POST /orgs/{org}/actions/runners/generate-jitconfig", {
            org: "acme",
            name,
            runner_group_id: 1,
            labels: ["modal"],
          }),
        ),
      );
      const refused = results
        .filter((r) => r.status === "rejected")
        .map(
          (r) => (r as PromiseRejectedResult).reason as { status: number; message: string; response: { headers: Record<string, string> } },
        );
      // 100 concurrent at most, 180 writes a window: at least one is refused, each with GitHub's answer
      expect(refused.length).toBeGreaterThanOrEqual(1);
      for (const e of refused) {
        expect(e.status).toBe(403);
        expect(e.message).toContain(SECONDARY_RATE_LIMIT_MESSAGE.slice(0, 40));
        expect(Number(e.response.headers["retry-after"])).toBeGreaterThanOrEqual(1);
      }
      expect(gh.secondaryLimits.limitedByRoute.get("POST /orgs/{org}/actions/runners/generate-jitconfig")).toBe(refused.length);
      // the window is spent: a read is refused too, and counted under its route
      await expect(octokit.request("GET /repos/{owner}/{repo}/actions/runs", { owner: "acme", repo: "api" })).rejects.toMatchObject({
        status: 403,
      });
      expect(gh.secondaryLimits.limitedByRoute.get("GET /repos/{owner}/{repo}/actions/runs")).toBe(1);
      // another installation (here: the App's JWT) has its own budget
      expect((await appOctokit().request("GET /app")).status).toBe(200);
    } finally {
      gh.secondaryLimits.disable();
    }
    expect((await octokit.request("GET /repos/{owner}/{repo}/actions/runs", { owner: "acme", repo: "api" })).status).toBe(200);
    gh.assertNoViolations();
  });
});

test("GitHub's time is the `now` it is given: jobs queued, completed and delivered are stamped on it, not on the wall clock", async () => {
  let now = Date.parse("2030-01-01T00:00:00Z");
  const skipped = await FakeGitHub.start({ checkOpenApi: false, now: () => now });
  try {
    const inst = skipped.addInstallation({ account: "time-org" });
    skipped.addRepository({ installationId: inst.id, owner: "time-org", name: "app" });
    const job = skipped.queueJob({ owner: "time-org", repo: "app", labels: ["modal"] });
    expect(job.createdAt.getTime()).toBe(now);
    now += 90_000;
    skipped.cancelJob(job.id);
    expect(skipped.job(job.id)?.completedAt?.getTime()).toBe(now);
    await skipped.settle();
    expect(skipped.deliveries.map((delivery) => delivery.at)).toEqual([now]); // the completed event (no webhook URL: recorded, not sent)
  } finally {
    await skipped.close();
  }
});
