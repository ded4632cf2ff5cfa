// The fake's delivery log and enforced secondary limits, through real Octokit and
// checked against GitHub's OpenAPI description (assertNoViolations).
import http from "node:http";
import type { AddressInfo } from "node:net";
import { ProbotOctokit } from "probot";
import { DEFAULT_PERMISSIONS, FakeGitHub } from "@modal-github-runner/simulator/fake-github";
import { SECONDARY_RATE_LIMIT_MESSAGE } from "@modal-github-runner/simulator/github/secondary-limits";

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

  await expect(app.request("POST /app/hook/deliveries/{delivery_id}/attempts", { delivery_id: 1 })).rejects.toMatchObject({ status: 404 });
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
