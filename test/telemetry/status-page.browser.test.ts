// The status page in a real headless Chromium: it loads behind the token with no
// console error (CSP included), shows a running job, and follows the job to its end
// without a reload. (The README's screenshot is the demo's: test/demo/status-page.e2e.test.ts.)
import type { Browser } from "playwright-core";
import { statusHandler } from "../../src/telemetry/status-handler.js";
import type { StatusSnapshot } from "../../src/telemetry/status-snapshot.js";
import { collectPageErrors, launchBrowser } from "../support/browser.js";
import { serveHandler } from "../support/serve-handler.js";
import { sampleSnapshot } from "./sample-snapshot.js";

const TOKEN = "browser-status-token-0123456789";

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(() => browser?.close());

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
          : { ...story, outcome: "success", conclusion: "success", finishedAt: new Date().toISOString(), runSeconds: 42, dollars: 0.0031 },
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
    let navigations = 0;
    page.on("framenavigated", (frame) => {
      if (frame === page.mainFrame()) navigations += 1;
    });

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
    expect(navigations).toBe(1);
    expect(errors).toEqual([]);
  } finally {
    await context.close();
    await server.close();
  }
});

test("a wrong token gets 401 and none of the page", async () => {
  const { snapshot } = world();
  const server = await serveHandler(statusHandler({ token: TOKEN, snapshot }));
  const context = await browser.newContext({ httpCredentials: { username: "ops", password: "not-the-token" } });
  try {
    const page = await context.newPage();
    const response = await page.goto(`${server.url}/status`);
    expect(response?.status()).toBe(401);
    const text = await page.content();
    expect(text).not.toContain("acme");
    expect(text).not.toContain(TOKEN);
  } finally {
    await context.close();
    await server.close();
  }
});

test("with no STATUS_TOKEN the page is not served", async () => {
  const { snapshot } = world();
  const server = await serveHandler(statusHandler({ token: undefined, snapshot }));
  const context = await browser.newContext({ httpCredentials: { username: "ops", password: "anything" } });
  try {
    const page = await context.newPage();
    // The page's timers on Playwright's clock: its 2 s refresh comes when the test moves time, not after 2 s of waiting.
    await page.clock.install();
    const response = await page.goto(`${server.url}/`);
    expect(response?.status()).toBe(404);
    expect(await page.content()).not.toContain("acme");
  } finally {
    await context.close();
    await server.close();
  }
});

test.each([390, 360])("at a phone's width (%i px) the page does not scroll sideways and every job row is readable", async (width) => {
  const { snapshot } = world();
  const server = await serveHandler(statusHandler({ token: TOKEN, snapshot }));
  const context = await browser.newContext({
    httpCredentials: { username: "ops", password: TOKEN },
    viewport: { width, height: 740 },
    isMobile: true,
    hasTouch: true,
  });
  try {
    const page = await context.newPage();
    const errors = collectPageErrors(page);
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
    await context.close();
    await server.close();
  }
});
