import { Metrics, type JobState } from "../../src/telemetry/metrics.js";
import { startMetricsServer } from "../../src/telemetry/start-metrics-server.js";
import { basic, serveHandler } from "../support/serve-handler.js";

const TOKEN = "status-token-0123456789";

function world() {
  const state = {
    jobs: [] as { installation: string; profile: string; state: JobState; count: number }[],
    budget: [] as { installation: string; points: number }[],
    breakerOpen: false,
    now: 1_800_000_000_000,
  };
  const metrics = new Metrics(
    {
      waiting: () => 2,
      sandboxes: () => 3,
      jobs: () => state.jobs,
      githubBudget: () => state.budget,
      modalBreakerOpen: () => state.breakerOpen,
    },
    { now: () => state.now },
  );
  return { state, metrics };
}

/** A series' value; for a histogram, its observation count. */
async function value(metrics: Metrics, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = await metrics.registry.getSingleMetric(name)?.get();
  if (!metric) return undefined;
  const values = metric.values as { value: number; labels: Record<string, unknown>; metricName?: string }[];
  const series = values.some((v) => v.metricName) ? values.filter((v) => v.metricName === `${name}_count`) : values;
  return series.find((v) => Object.entries(labels).every(([key, label]) => v.labels[key] === label))?.value;
}

test("counts jobs, repairs, passes and the time of the last good pass", async () => {
  const { state, metrics } = world();
  metrics.job("started");
  metrics.job("started");
  metrics.job("refused");
  metrics.pass({ ok: true, durationMs: 1500, repaired: { "serve-job": 2, "terminate-sandbox": 0 }, apiCalls: { github: 4, modal: 1 } });
  state.now += 60_000;
  metrics.pass({ ok: false, durationMs: 200, repaired: {}, apiCalls: { github: 1, modal: 0 } });

  expect(await value(metrics, "modal_runner_jobs_total", { outcome: "started" })).toBe(2);
  expect(await value(metrics, "modal_runner_jobs_total", { outcome: "refused" })).toBe(1);
  expect(await value(metrics, "modal_runner_reconcile_repairs_total", { kind: "serve-job" })).toBe(2);
  expect(await value(metrics, "modal_runner_reconcile_passes_total", { result: "failed" })).toBe(1);
  expect(await value(metrics, "modal_runner_reconcile_api_calls_total", { api: "github" })).toBe(5);
  // The failed pass does not move the timestamp: alerts key on it.
  expect(await value(metrics, "modal_runner_last_reconcile_success_timestamp_seconds")).toBe(1_800_000_000);
  expect(await value(metrics, "modal_runner_reconcile_duration_seconds")).toBe(2);
});

test("cost, startup and webhook→sandbox figures by installation and profile", async () => {
  const { metrics } = world();
  const labels = { installation: "42", profile: "gpu" };
  metrics.cost(labels, 0.25);
  metrics.cost(labels, 0.5);
  metrics.jobStarted(labels, new Date("2026-11-28T10:00:00Z"), new Date("2026-11-28T10:00:07Z"));
  metrics.jobCompleted(labels, 0, 90_000);
  metrics.sandboxCreated(labels, 1000, 2500);

  expect(await value(metrics, "modal_runner_cost_dollars_total", labels)).toBeCloseTo(0.75, 12);
  const text = await metrics.registry.metrics();
  expect(text).toContain('modal_runner_job_startup_duration_seconds_bucket{le="5",installation="42",profile="gpu"} 0');
  expect(text).toContain('modal_runner_job_startup_duration_seconds_bucket{le="10",installation="42",profile="gpu"} 1');
  expect(text).toContain('modal_runner_job_startup_duration_seconds_sum{installation="42",profile="gpu"} 7');
  expect(text).toContain('modal_runner_webhook_to_sandbox_duration_seconds_sum{installation="42",profile="gpu"} 1.5');
  expect(text).toContain('modal_runner_job_execution_duration_seconds_sum{installation="42",profile="gpu"} 90');
});

test("gauges read their sources at scrape time, and a series that empties reads nothing", async () => {
  const { state, metrics } = world();
  state.jobs = [
    { installation: "1", profile: "default", state: "running", count: 3 },
    { installation: "1", profile: "gpu", state: "waiting", count: 1 },
  ];
  state.budget = [{ installation: "1", points: 850 }];
  state.breakerOpen = true;
  let text = await metrics.registry.metrics();
  expect(text).toContain('modal_runner_jobs_current{installation="1",profile="default",state="running"} 3');
  expect(text).toContain('modal_runner_jobs_current{installation="1",profile="gpu",state="waiting"} 1');
  expect(text).toContain('modal_runner_github_budget_points{installation="1"} 850');
  expect(text).toContain("modal_runner_modal_breaker_open 1");
  expect(text).toContain("modal_runner_jobs_waiting 2");
  expect(text).toContain("modal_runner_sandboxes 3");

  state.jobs = [{ installation: "1", profile: "default", state: "running", count: 1 }];
  state.breakerOpen = false;
  text = await metrics.registry.metrics();
  expect(text).not.toContain('state="waiting"');
  expect(text).toContain('modal_runner_jobs_current{installation="1",profile="default",state="running"} 1');
  expect(text).toContain("modal_runner_modal_breaker_open 0");
});

test("process metrics are on the App's registry, not prom-client's global one", async () => {
  const { metrics } = world();
  const text = await metrics.registry.metrics();
  expect(text).toContain("process_cpu_user_seconds_total");
  expect(text).toContain("nodejs_heap_size_used_bytes");
  // Two Metrics in one process do not clash.
  expect(() => world()).not.toThrow();
});

describe("GET /metrics on the main port is protected by STATUS_TOKEN", () => {
  const { metrics } = world();
  let server: Awaited<ReturnType<typeof serveHandler>>;
  beforeAll(async () => {
    server = await serveHandler(metrics.handler({ token: TOKEN }));
  });
  afterAll(() => server.close());

  test("with the token as Bearer or Basic password it answers", async () => {
    for (const authorization of [`Bearer ${TOKEN}`, basic(TOKEN)]) {
      const res = await fetch(`${server.url}/metrics`, { headers: { authorization } });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain("modal_runner_jobs_total");
    }
  });

  test("without it, or with a wrong one, 401 and no metrics; the token is never echoed", async () => {
    for (const headers of [
      {} as Record<string, string>,
      { authorization: "Bearer nope" },
      { authorization: basic(`${TOKEN}x`) },
      { authorization: `Basic ${TOKEN}` },
    ]) {
      const res = await fetch(`${server.url}/metrics`, { headers });
      expect(res.status).toBe(401);
      const body = await res.text();
      expect(body).not.toContain("modal_runner");
      expect(body + JSON.stringify([...res.headers])).not.toContain(TOKEN);
    }
  });

  test("other paths fall through", async () => {
    expect((await fetch(`${server.url}/other`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
  });
});

test("with no STATUS_TOKEN set, the main port does not serve /metrics at all", async () => {
  const { metrics } = world();
  const server = await serveHandler(metrics.handler({ token: undefined }));
  try {
    const res = await fetch(`${server.url}/metrics`, { headers: { authorization: "Bearer " } });
    expect(res.status).toBe(404);
  } finally {
    await server.close();
  }
});

test("METRICS_PORT: a server of its own serves /metrics without a token, and nothing else", async () => {
  const { metrics } = world();
  const own = await startMetricsServer({ metrics, port: 0, host: "127.0.0.1" });
  try {
    const res = await fetch(`http://127.0.0.1:${own.port}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    expect(await res.text()).toContain("modal_runner_modal_breaker_open 0");
    expect((await fetch(`http://127.0.0.1:${own.port}/`)).status).toBe(404);
  } finally {
    await own.close();
  }
});
