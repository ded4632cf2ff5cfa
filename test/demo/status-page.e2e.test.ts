// The demo's world in a real headless Chromium: the real App with a STATUS_TOKEN,
// the simulated GitHub (every request and response checked against GitHub's OpenAPI
// description) and Modal, the scripted workload running. A job queued through the
// simulator shows on the status page as started with a busy sandbox; when it
// finishes, the page shows that by its own refresh, without a reload, and without a
// console error. The page, full of the workload's jobs, becomes docs/status-page.png
// (the README's screenshot).
import { mkdirSync } from "node:fs";
import path from "node:path";
import type { Browser, Locator, Page } from "playwright-core";
import { runWorkload } from "@modal-github-runner/demo/run-workload";
import { demoJobDuration, startDemo, type Demo } from "@modal-github-runner/demo/start-demo";
import { collectPageErrors, launchBrowser } from "../support/browser.js";
import { eventually } from "../support/app-harness.js";
import { FastForwardClock } from "../support/fast-forward-clock.js";
import { LogCapture } from "../support/log-capture.js";

const SCREENSHOT = path.join(process.cwd(), "docs", "status-page.png");
/** `UPDATE_SCREENSHOT=1 npm test -- test/demo` rewrites docs/status-page.png. */
const UPDATE_SCREENSHOT = process.env.UPDATE_SCREENSHOT === "1";
/**
 * The demo's time four times faster (its reconcile interval, which tells the page a
 * runner is busy, 2.5 s instead of 10 s), except for the screenshot, taken at the
 * demo's own pace.
 */
const TIME_SCALE = UPDATE_SCREENSHOT ? 1 : 0.25;

/** The status page's own refresh period (src/telemetry/status-page.ts). */
const PAGE_REFRESH_MS = 2_000;
/** The demo's reconcile interval (10 s of the demo's time). */
const RECONCILE_INTERVAL_MS = 10_000 * TIME_SCALE;

let browser: Browser;
let demo: Demo;
/** The App's time: the test skips to its next reconcile pass instead of waiting for it. */
const clock = new FastForwardClock();
const logs = new LogCapture();
/** Jobs whose simulated runner keeps running until the test completes the job itself. */
const held = new Set<number>();

beforeAll(async () => {
  browser = await launchBrowser();
  demo = await startDemo({
    port: 0,
    logDestination: logs,
    logLevel: "info",
    checkOpenApi: true,
    timeScale: TIME_SCALE,
    clock,
    runners: { jobDurationMs: (jobId) => (held.has(jobId) ? 600_000 : demoJobDuration(jobId) * TIME_SCALE) },
  });
});

afterAll(async () => {
  await demo?.stop();
  await browser?.close();
});

/**
 * Moves time on until `locator` shows: the App's by `appMs` (its next reconcile pass, then
 * waits for the pass), the page's by one refresh (Playwright's clock; the fetch it starts is
 * real). Neither timer is waited for; a step that has not shown it yet is repeated.
 */
async function skipUntil(page: Page, locator: Locator, appMs = 0): Promise<void> {
  for (let step = 0; step < 20; step++) {
    if (appMs > 0) {
      await clock.advance(appMs);
      await demo.server.runtime.reconciler.idle();
    }
    await page.clock.runFor(PAGE_REFRESH_MS);
    const shown = await locator.waitFor({ timeout: 500 }).then(
      () => true,
      () => false,
    );
    if (shown) return;
  }
  await locator.waitFor({ timeout: 1 }); // fails with Playwright's own description
}

test("a job queued in the simulator shows on the status page, running, then finished with its cost and link, without a reload", async () => {
  const workload = new AbortController();
  const context = await browser.newContext({
    httpCredentials: { username: "demo", password: demo.statusToken },
    viewport: { width: 1200, height: 900 },
  });
  try {
    const page = await context.newPage();
    const errors = collectPageErrors(page);
    let navigations = 0;
    page.on("framenavigated", (frame) => {
      if (frame === page.mainFrame()) navigations += 1;
    });
    await page.clock.install(); // the page's refresh timer runs when the test says
    expect((await page.goto(`${demo.url}/`))?.status()).toBe(200);

    const job = demo.github.queueJob({ owner: "acme", repo: "api", labels: ["self-hosted", "modal"], name: "e2e" });
    held.add(job.id);
    await demo.github.deliverWorkflowJob("queued", job);
    const sandbox = page.locator(`tr[data-sandbox="modal-${job.id}-0"]`);
    // The runner took the job; the App's next reconcile pass hears from GitHub that it is busy.
    await eventually(() => demo.github.jobs().find((queued) => queued.id === job.id)?.status === "in_progress", "the runner took the job");
    await skipUntil(page, sandbox.filter({ hasText: "busy" }), RECONCILE_INTERVAL_MS);
    expect(await page.locator(`tr[data-job="${job.id}"]`).innerText()).toMatch(/starting|running/);

    // The README's screenshot, on request (UPDATE_SCREENSHOT=1): taken during the
    // workload's 30-job burst, so the page is full.
    const script = UPDATE_SCREENSHOT ? runWorkload(demo, { say: () => undefined, signal: workload.signal }) : undefined;
    if (UPDATE_SCREENSHOT) {
      await eventually(() => demo.modal.running().length >= 16, "the burst runs", 40_000);
      await page.locator("tr[data-sandbox]", { hasText: "busy" }).nth(5).waitFor({ timeout: 40_000 });
      mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
    }

    demo.github.completeJob(job.id, "success");
    await skipUntil(page, page.locator("body").filter({ hasNot: sandbox }));
    // The job's story ends with its outcome, run time and cost, and links to the job on GitHub.
    const row = page.locator(`tr[data-job="${job.id}"]`);
    await skipUntil(page, row.filter({ hasText: "success" }).filter({ hasText: "$" }));
    expect(await row.locator("a").first().getAttribute("href")).toMatch(new RegExp(`/acme/api/actions/runs/${job.runId}/job/${job.id}$`));
    expect(await page.locator("#updated").innerText()).toContain("refreshed");
    expect(navigations).toBe(1);
    expect(errors).toEqual([]);

    workload.abort();
    await script;
    expect(demo.github.violations).toEqual([]);
    // The token guards the page; it never reaches a log line.
    expect(logs.raw.join("")).not.toContain(demo.statusToken);
  } finally {
    workload.abort();
    await context.close();
  }
}, 120_000);
