// No unauthenticated request may cost the App memory (issue 9): a huge body, sent
// chunked (no length announced) and unsigned, is answered 413 once it passes the
// limit, without being held whole, and never written to the log. GitHub caps
// webhook payloads at 25 MB; /reconcile takes no body at all. The App runs in this
// process, so its memory is this process's.
import http from "node:http";
import { startOrgWorld, type RunningApp, type World } from "../support/app-harness.js";

let world: World;
let app: RunningApp;
const RECONCILE_SECRET = "reconcile-secret-for-large-body-tests";
const MARKER = "BODY-MARKER-";
const MiB = 1024 * 1024;

beforeEach(async () => {
  world = await startOrgWorld();
  app = await world.startApp({ RECONCILE_SECRET });
});

afterEach(async () => {
  world.github.assertNoViolations();
  await world.close();
});

/** POSTs `totalBytes` in 1 MiB chunks (chunked encoding), stopping once the App answers; tracks this process's peak memory meanwhile. */
function streamBody(
  url: string,
  headers: Record<string, string>,
  totalBytes: number,
): Promise<{ status: number | undefined; sent: number; peakGrowth: number }> {
  const chunk = Buffer.from(MARKER.repeat(Math.ceil(MiB / MARKER.length)).slice(0, MiB));
  const before = process.memoryUsage();
  let peakGrowth = 0;
  const sample = () => {
    const now = process.memoryUsage();
    peakGrowth = Math.max(peakGrowth, now.rss - before.rss, now.heapUsed + now.arrayBuffers - (before.heapUsed + before.arrayBuffers));
  };
  return new Promise((resolve) => {
    let status: number | undefined;
    let sent = 0;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      sample();
      resolve({ status, sent, peakGrowth });
    };
    const req = http.request(url, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json", "transfer-encoding": "chunked" },
    });
    req.on("response", (res) => {
      status = res.statusCode;
      res.resume();
      res.on("end", finish);
      res.on("error", finish);
    });
    // The App closes the connection after its answer: writing on fails then.
    req.on("error", finish);
    const pump = () => {
      while (!done && status === undefined && sent < totalBytes) {
        sent += chunk.length;
        sample();
        if (!req.write(chunk)) return void req.once("drain", pump);
      }
      if (!done && status === undefined) req.end();
    };
    pump();
  });
}

test("a 100 MB unsigned webhook body is answered 413 without being held, and never logged", async () => {
  const result = await streamBody(
    app.webhookUrl,
    { "x-github-event": "workflow_job", "x-github-delivery": "large-body", "x-hub-signature-256": "sha256=" + "0".repeat(64) },
    100 * MiB,
  );
  expect(result.status).toBe(413);
  expect(result.sent).toBeLessThan(100 * MiB);
  // Up to GitHub's 25 MB cap is read before the signature can be checked; the rest is dropped as it comes.
  expect(result.peakGrowth).toBeLessThan(48 * MiB);
  expect(app.logs.text).not.toContain(MARKER);
  expect(app.logs.lines.filter((line) => line.deliveryId === "large-body")).toEqual([expect.objectContaining({ level: 40, status: 413 })]);
  // The App still answers.
  expect((await fetch(`${app.url}/ping`)).status).toBe(200);
});

test("a refused delivery's payload is never logged (wrong signature, malformed JSON)", async () => {
  const body = JSON.stringify({ action: "queued", marker: MARKER.repeat(1000) });
  expect((await world.github.deliverRaw("workflow_job", body, { signature: "wrong" })).status).toBe(400);
  expect((await world.github.deliverRaw("workflow_job", `{"marker": "${MARKER}"`)).status).toBe(400);
  expect(app.logs.text).not.toContain(MARKER);
  expect(app.logs.lines.filter((line) => line.status === 400)).toHaveLength(2);
});

test.each([
  ["with the bearer token", { authorization: `Bearer ${RECONCILE_SECRET}` }],
  ["without a token", {}],
])("a 30 MB POST to /reconcile %s is answered 413 without being held, and runs no pass", async (_case, headers: Record<string, string>) => {
  const passes = () => world.github.requests.filter((request) => request.route === "/app/installations").length;
  const before = passes();
  const result = await streamBody(`${app.url}/reconcile`, headers, 30 * MiB);
  expect(result.status).toBe(413);
  expect(result.peakGrowth).toBeLessThan(16 * MiB);
  expect(app.logs.text).not.toContain(MARKER);
  expect(passes()).toBe(before);
  // A POST without a body still runs a pass.
  const answer = await fetch(`${app.url}/reconcile`, { method: "POST", headers: { authorization: `Bearer ${RECONCILE_SECRET}` } });
  expect(answer.status).toBe(200);
  expect(passes()).toBeGreaterThan(before);
});
