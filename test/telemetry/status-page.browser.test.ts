// The status page in a real headless Chromium, one browser for the file (a browser
// costs about two seconds of CPU to start, a page about half a second: cases that need
// the same credentials and device share a page).
//
// On its own, over a sample snapshot: it loads behind the token with no console error
// (CSP included), shows a running job, and follows the job to its end without a reload;
// it refuses a wrong token, is not served without STATUS_TOKEN, and fits a phone.
//
// In the demo's world: the real App with a STATUS_TOKEN, the simulated GitHub (every
// request and response checked against GitHub's OpenAPI description) and Modal, the
// scripted workload running. A job queued through the simulator shows on the status page
// as started with a busy sandbox; when it finishes, the page shows that by its own
// refresh, without a reload, and without a console error. The page, full of the
// workload's jobs, becomes docs/status-page.png (the README's screenshot).
import { mkdirSync } from "node:fs";
import path from "node:path";
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import { runWorkload } from "@modal-github-runner/demo/run-workload";
import { demoJobDuration, startDemo, type Demo } from "@modal-github-runner/demo/start-demo";
import { statusHandler } from "../../src/telemetry/status-handler.js";
import type { StatusSnapshot } from "../../src/telemetry/status-snapshot.js";
import { eventually } from "../support/app-harness.js";
import { collectPageErrors, countNavigations, launchBrowser } from "../support/browser.js";
import { FastForwardClock } from "../support/fast-forward-clock.js";
import { LogCapture } from "../support/log-capture.js";
import { serveHandler } from "../support/serve-handler.js";
import { sampleSnapshot } from "./sample-snapshot.js";

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(() => browser?.close());

describe("on its own, over a sample snapshot", () => {
  const TOKEN = "browser-status-token-0123456789";

  /** The App's state as the page will see it, changed by the test between refreshes. */
  function world() {
    let phase: "running" | "finished" = "running";
    const snapshot = (): StatusSnapshot => {
      const base = sampleSnapshot({}, Date.now());
      const started = new Date(Date.now() - 42_000).toISOString();
      const story: StatusSnapshot["jobStories"][number] = {
        jobId: 4242,
        runId: 77,
        name: "checkout tests",
        repo: "acme/checkout",
        installationId: 101,
        htmlUrl: "https://github.com/acme/checkout/actions/runs/77/job/4242",
        firstSeenAt: started,
        queuedAt: started,
        startedAt: started,
        outcome: "running",
        runner: "mgr-4242-0",
        sandbox: "mgr-4242-0",
        profile: "default",
        queueSeconds: 0,
      };
      return {
        ...base,
        jobStories: [
          phase === "running"
            ? story
            : {
                ...story,
                outcome: "success",
                conclusion: "success",
                finishedAt: new Date().toISOString(),
                runSeconds: 42,
                dollars: 0.0031,
              },
          ...base.jobStories,
        ],
        sandboxes: [
          {
            name: "mgr-4242-0",
            createdAt: started,
            madeFor: 4242,
            jobId: 4242,
            repo: "acme/checkout",
            profile: "default",
            state: phase === "running" ? "busy" : "finished",
          },
          ...base.sandboxes,
        ],
      };
    };
    return { snapshot, finish: () => (phase = "finished") };
  }

  /** The page's and the body's scroll widths against the viewport's (a string, so the test needs no DOM types). */
  async function widths(page: import("playwright-core").Page) {
    return (await page.evaluate(
      "({ page: document.documentElement.scrollWidth, body: document.body.scrollWidth, viewport: window.innerWidth })",
    )) as {
      page: number;
      body: number;
      viewport: number;
    };
  }

  test("behind the token, the page shows a running job and follows it to its end without a reload", async () => {
    const { snapshot, finish } = world();
    const server = await serveHandler(statusHandler({ token: TOKEN, snapshot }));
    const context = await browser.newContext({
      httpCredentials: { username: "ops", password: TOKEN },
      viewport: { width: 1100, height: 900 },
    });
    try {
      const page = await context.newPage();
      const errors = collectPageErrors(page);
      const navigations = countNavigations(page);

      // The page's timers on Playwright's clock: its 2 s refresh comes when the test moves time, not after 2 s of waiting.
      await page.clock.install();
      const response = await page.goto(`${server.url}/`);
      expect(response?.status()).toBe(200);
      const sandbox = page.locator('tr[data-sandbox="mgr-4242-0"]');
      expect(await sandbox.innerText()).toContain("busy");
      expect(await page.locator('tr[data-job="4242"]').innerText()).toContain("running");

      finish();
      // The page's own refresh (every 2 s) brings the change: no reload, same document.
      await page.clock.runFor(2_000);
      await page.locator('tr[data-sandbox="mgr-4242-0"]', { hasText: "finished" }).waitFor();
      const row = page.locator('tr[data-job="4242"]');
      expect(await row.innerText()).toContain("success");
      expect(await row.innerText()).toContain("42 s");
      expect(await row.innerText()).toContain("$0.0031");
      expect(await row.locator("a").first().getAttribute("href")).toBe("https://github.com/acme/checkout/actions/runs/77/job/4242");
      expect(await widths(page)).toMatchObject({ page: 1100, body: 1100 }); // no sideways scroll at desktop width either
      expect(await page.locator("#updated").innerText()).toContain("refreshed");
      expect(navigations()).toBe(1);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
      await server.close();
    }
  });

  describe("refused", () => {
    // A wrong token and no STATUS_TOKEN at all: one page, two servers.
    let context: BrowserContext;
    let page: Page;
    beforeAll(async () => {
      context = await browser.newContext({ httpCredentials: { username: "ops", password: "not-the-token" } });
      page = await context.newPage();
    });
    afterAll(() => context?.close());

    test("a wrong token gets 401 and none of the page", async () => {
      const { snapshot } = world();
      const server = await serveHandler(statusHandler({ token: TOKEN, snapshot }));
      try {
        const response = await page.goto(`${server.url}/status`);
        expect(response?.status()).toBe(401);
        const text = await page.content();
        expect(text).not.toContain("acme");
        expect(text).not.toContain(TOKEN);
      } finally {
        await server.close();
      }
    });

    test("with no STATUS_TOKEN the page is not served", async () => {
      const { snapshot } = world();
      const server = await serveHandler(statusHandler({ token: undefined, snapshot }));
      try {
        const response = await page.goto(`${server.url}/`);
        expect(response?.status()).toBe(404);
        expect(await page.content()).not.toContain("acme");
      } finally {
        await server.close();
      }
    });
  });

  describe("on a phone", () => {
    // One phone-sized page; each case sets its width before it loads the page.
    let context: BrowserContext;
    let page: Page;
    let errors: string[];
    beforeAll(async () => {
      context = await browser.newContext({
        httpCredentials: { username: "ops", password: TOKEN },
        viewport: { width: 390, height: 740 },
        isMobile: true,
        hasTouch: true,
      });
      page = await context.newPage();
      errors = collectPageErrors(page);
    });
    afterAll(() => context?.close());

    test.each([390, 360])("at a phone's width (%i px) the page does not scroll sideways and every job row is readable", async (width) => {
      const { snapshot } = world();
      const server = await serveHandler(statusHandler({ token: TOKEN, snapshot }));
      errors.length = 0;
      try {
        await page.setViewportSize({ width, height: 740 });
        expect((await page.goto(`${server.url}/`))?.status()).toBe(200);
        const measured = await widths(page);
        expect(measured.viewport).toBe(width);
        expect(measured.page).toBeLessThanOrEqual(width);
        expect(measured.body).toBeLessThanOrEqual(width);
        // No table is clipped: every row fits the viewport, so nothing hides in a sideways scroll.
        const widest = (await page.evaluate(
          "Math.max(...[...document.querySelectorAll('tr, table')].map((e) => e.getBoundingClientRect().right))",
        )) as number;
        expect(widest).toBeLessThanOrEqual(width);
        // Each cell says what it is (the header is hidden at this width).
        const queue = page.locator('tr[data-job="8997"] td[data-label="Queue"]');
        expect(await queue.innerText()).toBe("20 s");
        const label = await page.evaluate(
          `getComputedStyle(document.querySelector('tr[data-job="8997"] td[data-label="Queue"]'), "::before").content`,
        );
        expect(label).toBe('"Queue"');
        if (process.env.UPDATE_SCREENSHOT === "1" && width === 390)
          await page.screenshot({ path: "docs/status-page-phone.png", fullPage: true });
        expect(errors).toEqual([]);
      } finally {
        await server.close();
      }
    });
  });
});

describe("in the demo's world", () => {
  const SCREENSHOT = path.join(process.cwd(), "docs", "status-page.png");
  /** `UPDATE_SCREENSHOT=1 npm test -- test/telemetry/status-page.browser` rewrites docs/status-page.png. */
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

  let demo: Demo;
  /** The App's time: the test skips to its next reconcile pass instead of waiting for it. */
  const clock = new FastForwardClock();
  const logs = new LogCapture();
  /** Jobs whose simulated runner keeps running until the test completes the job itself. */
  const held = new Set<number>();

  beforeAll(async () => {
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
      const navigations = countNavigations(page);
      await page.clock.install(); // the page's refresh timer runs when the test says
      expect((await page.goto(`${demo.url}/`))?.status()).toBe(200);

      const job = demo.github.queueJob({ owner: "acme", repo: "api", labels: ["self-hosted", "modal"], name: "e2e" });
      held.add(job.id);
      await demo.github.deliverWorkflowJob("queued", job);
      const sandbox = page.locator(`tr[data-sandbox="modal-${job.id}-0"]`);
      // The runner took the job; the App's next reconcile pass hears from GitHub that it is busy.
      await eventually(
        () => demo.github.jobs().find((queued) => queued.id === job.id)?.status === "in_progress",
        "the runner took the job",
      );
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
      expect(navigations()).toBe(1);
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
});
