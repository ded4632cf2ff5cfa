// The status page in a real headless Chromium: it loads behind the token with no
// console error (CSP included), shows a running job, and follows the job to its end
// without a reload. (The README's screenshot is the demo's: test/demo/status-page.e2e.test.ts.)
import type { Browser } from "playwright-core";
import { statusHandler } from "../../src/observe/status-handler.js";
import type { StatusSnapshot } from "../../src/observe/status-snapshot.js";
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
    return {
      ...base,
      outcomes: [
        phase === "running"
          ? { at: started, jobId: 4242, repo: "acme/checkout", kind: "started" }
          : { at: new Date().toISOString(), jobId: 4242, repo: "acme/checkout", kind: "completed", reason: "job succeeded" },
        ...base.outcomes,
      ],
      sandboxes: [
        {
          name: "mgr-4242-0",
          createdAt: started,
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

    const response = await page.goto(`${server.url}/`);
    expect(response?.status()).toBe(200);
    const sandbox = page.locator('tr[data-sandbox="mgr-4242-0"]');
    expect(await sandbox.innerText()).toContain("busy");
    expect(await page.locator('tr[data-job="4242"]').innerText()).toContain("started");

    finish();
    // The page's own refresh brings the change: no reload, same document.
    await page.locator('tr[data-sandbox="mgr-4242-0"]', { hasText: "finished" }).waitFor();
    expect(await page.locator('tr[data-job="4242"]').innerText()).toContain("job succeeded");
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
    const response = await page.goto(`${server.url}/`);
    expect(response?.status()).toBe(404);
    expect(await page.content()).not.toContain("acme");
  } finally {
    await context.close();
    await server.close();
  }
});

test("at a phone's width the page does not scroll sideways", async () => {
  const { snapshot } = world();
  const server = await serveHandler(statusHandler({ token: TOKEN, snapshot }));
  const context = await browser.newContext({
    httpCredentials: { username: "ops", password: TOKEN },
    viewport: { width: 360, height: 740 },
    isMobile: true,
    hasTouch: true,
  });
  try {
    const page = await context.newPage();
    const errors = collectPageErrors(page);
    expect((await page.goto(`${server.url}/`))?.status()).toBe(200);
    // A string, so the test's TypeScript needs no DOM types: it runs in the page.
    const widths = (await page.evaluate(
      "({ page: document.documentElement.scrollWidth, body: document.body.scrollWidth, viewport: window.innerWidth })",
    )) as { page: number; body: number; viewport: number };
    expect(widths.viewport).toBe(360);
    expect(widths.page).toBeLessThanOrEqual(widths.viewport);
    expect(widths.body).toBeLessThanOrEqual(widths.viewport);
    expect(errors).toEqual([]);
  } finally {
    await context.close();
    await server.close();
  }
});
