import { statusHandler } from "../../src/telemetry/status-handler.js";
import { renderStatusPage } from "../../src/telemetry/status-page.js";
import type { StatusSnapshot } from "../../src/telemetry/status-snapshot.js";
import { basic, serveHandler } from "../support/serve-handler.js";
import { sampleSnapshot } from "./sample-snapshot.js";

const TOKEN = "s3cret-status-token-abcdef";

async function served(token: string | undefined, snapshot: () => StatusSnapshot = () => sampleSnapshot()) {
  return serveHandler(statusHandler({ token, snapshot }));
}

test("with no STATUS_TOKEN the page is not served at all", async () => {
  const server = await served(undefined);
  try {
    for (const path of ["/", "/status", "/status.json"]) {
      const res = await fetch(`${server.url}${path}`, { headers: { authorization: basic("") } });
      expect(res.status).toBe(404);
    }
  } finally {
    await server.close();
  }
});

describe("with STATUS_TOKEN set", () => {
  let server: Awaited<ReturnType<typeof served>>;
  beforeAll(async () => {
    server = await served(TOKEN);
  });
  afterAll(() => server.close());

  test("no credentials or wrong ones: 401 with a Basic challenge, and the token never echoed", async () => {
    const attempts: Record<string, string>[] = [
      {},
      { authorization: basic("wrong") },
      { authorization: basic(TOKEN.slice(0, -1)) },
      { authorization: `Bearer ${TOKEN}x` },
      { authorization: `Token ${TOKEN}` },
    ];
    for (const headers of attempts) {
      for (const path of ["/", "/status", "/status.json", "/status?fragment=1"]) {
        const res = await fetch(`${server.url}${path}`, { headers });
        expect(res.status).toBe(401);
        expect(res.headers.get("www-authenticate")).toMatch(/^Basic realm=/);
        const everything = (await res.text()) + JSON.stringify([...res.headers]);
        expect(everything).not.toContain(TOKEN);
        expect(everything).not.toContain("acme");
      }
    }
  });

  test("the token as Basic password (any user) or Bearer shows the page, without echoing it", async () => {
    for (const authorization of [basic(TOKEN), basic(TOKEN, "someone-else"), `Bearer ${TOKEN}`]) {
      for (const path of ["/", "/status"]) {
        const res = await fetch(`${server.url}${path}`, { headers: { authorization } });
        expect(res.status).toBe(200);
        expect(res.headers.get("content-type")).toContain("text/html");
        expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
        const html = await res.text();
        expect(html).toContain("<!doctype html>");
        expect(html).toContain('name="viewport"');
        expect(html).toContain("acme/api");
        expect(html + JSON.stringify([...res.headers])).not.toContain(TOKEN);
      }
    }
  });

  test("/status.json returns the snapshot; the fragment is the page's main part only", async () => {
    const headers = { authorization: `Bearer ${TOKEN}` };
    const json = await fetch(`${server.url}/status.json`, { headers });
    expect(json.headers.get("content-type")).toContain("application/json");
    expect(await json.json()).toEqual(sampleSnapshot());
    const fragment = await (await fetch(`${server.url}/status?fragment=1`, { headers })).text();
    expect(fragment).toContain("mgr-9001-0");
    expect(fragment).not.toContain("<html");
    expect(fragment).not.toContain("<script");
  });

  test("query parameters filter the job stories by installation (id or account), repository and outcome", async () => {
    const ids = async (query: string) => {
      const response = await fetch(`${server.url}/status.json${query}`, { headers: { authorization: `Bearer ${TOKEN}` } });
      return ((await response.json()) as StatusSnapshot).jobStories.map((story) => story.jobId);
    };
    expect(await ids("")).toEqual([9001, 9000, 8999, 8997]);
    expect(await ids("?outcome=success")).toEqual([8997]);
    expect(await ids("?repo=ACME/api")).toEqual([9001]);
    expect(await ids("?installation=octo-labs")).toEqual([8999]);
    expect(await ids("?installation=101&outcome=waiting")).toEqual([9000]);
    const page = await fetch(`${server.url}/status?fragment=1&outcome=refused`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const html = await page.text();
    expect(html).toContain('data-job="8999"');
    expect(html).not.toContain('data-job="9001"');
  });

  test("other paths and methods fall through", async () => {
    const headers = { authorization: `Bearer ${TOKEN}` };
    expect((await fetch(`${server.url}/metrics`, { headers })).status).toBe(404);
    expect((await fetch(`${server.url}/status`, { method: "POST", headers })).status).toBe(404);
  });
});

test("every value is escaped: markup in a repository name or a reason stays text", () => {
  const evil = '<script>alert("x")</script>';
  const html = renderStatusPage(
    sampleSnapshot({
      installations: [{ id: 1, account: `<img src=x onerror=alert(1)>` }],
      jobs: [{ installation: 1, profile: `"><b>p</b>`, waiting: 1, dispatching: 0, running: 0 }],
      jobStories: [
        {
          jobId: 1,
          runId: 1,
          name: evil,
          repo: evil,
          installationId: 1,
          htmlUrl: `javascript:alert(1)//${evil}`,
          firstSeenAt: "2026-11-28T10:00:00Z",
          outcome: "<i>k</i>",
          stoppedBy: evil,
        },
        {
          jobId: 2,
          runId: 1,
          name: "n",
          repo: "o/r",
          installationId: 1,
          firstSeenAt: "2026-11-28T10:00:00Z",
          outcome: "refused",
          note: "a & b ' c",
        },
      ],
      sandboxes: [{ name: evil, createdAt: "2026-11-28T10:00:00Z", profile: "x", state: "idle" }],
      reconciler: { lastPass: { at: "2026-11-28T10:00:00Z", ok: false, durationMs: 1, repairs: { [evil]: 1 }, errors: [evil] } },
    }),
  );
  expect(html).not.toContain(evil);
  expect(html).not.toContain("<img");
  expect(html).not.toContain("<b>p</b>");
  expect(html).not.toContain("<i>k</i>");
  expect(html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
  expect(html).toContain("a &amp; b &#39; c");
  expect(html).not.toContain("javascript:"); // only http(s) links to a job
  // The page's own script is the only one.
  expect(html.match(/<script>/g)).toHaveLength(1);
});

test("sections say what they show: counts, budget headroom, health in plain words, spend by installation and profile", () => {
  const html = renderStatusPage(
    sampleSnapshot({
      modal: { reachable: false, since: "2026-11-28T10:03:00Z", nextTryAt: "2026-11-28T10:05:30Z", reason: "Modal UNAVAILABLE: down" },
      github: { reachable: false, since: "2026-11-28T10:04:00Z", reason: "could not reach GitHub: ECONNREFUSED" },
    }),
  );
  expect(html).toMatch(/Running<\/span><b>5<\/b>/);
  expect(html).toMatch(/Waiting<\/span><b>2<\/b>/);
  expect(html).toContain('<span class="bad">7%</span>'); // 60 of 900 left
  expect(html).toContain('<span class="ok">90%</span>');
  expect(html).toMatch(/Modal: <span class="bad">unreachable<\/span> since .*, next try in 30 s: Modal UNAVAILABLE: down\./);
  expect(html).toMatch(/GitHub: <span class="bad">unreachable<\/span> since .*: could not reach GitHub: ECONNREFUSED\./);
  expect(html).not.toMatch(/breaker|circuit|\bopen\b|closed/i);
  expect(html).toContain("grant Self-hosted runners (organization): write"); // the start-up doctor's fix
  expect(html).toContain('href="https://github.com/acme/api/actions/runs/700/job/9001"');
  expect(html).toContain("made for job 8996");
  expect(html).toContain("4 min 0 s"); // job 8997's run time
  expect(html).toContain("$0.0123"); // and its cost
  expect(html).toContain("$4.73"); // acme today: 1.2345 + 3.5
  expect(html).toContain("$1.28"); // default profile: 1.2345 + 0.0421
  expect(html).toContain("$0.0421"); // octo-labs: under a dollar, four decimals
  expect(html).toContain("25 min 0 s"); // mgr-8990-0's age
  expect(html).toContain("serve-job: 1");
});
