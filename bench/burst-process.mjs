// The 300-job burst in a process of its own, without Jest: the App (from dist/) and
// the simulators (OpenAPI checks off, as in the demo), so the peak RSS printed is the
// App's and the simulators', not the test runner's. Run by org-scale.bench.ts after
// `npm run build`; prints one JSON line.
import { Writable } from "node:stream";
import { FakeGitHub } from "../dist/simulator/fake-github.js";
import { FakeModal } from "../dist/simulator/fake-modal.js";
import { attachSimulatedRunners } from "../dist/simulator/simulated-runner.js";
import { startServer } from "../dist/server.js";
import { loadSettings } from "../dist/settings/load-settings.js";

const LATENCY_MS = 50;
const github = await FakeGitHub.start({ latencyMs: LATENCY_MS, checkOpenApi: false });
const modal = new FakeModal({ latencyMs: LATENCY_MS });
const orgs = Array.from({ length: 10 }, (_, i) => {
  const installation = github.addInstallation({ account: `org-${i}`, accountType: "Organization" });
  github.addRepository({ installationId: installation.id, owner: `org-${i}`, name: "app" });
  return `org-${i}`;
});
const settings = loadSettings({
  ...github.appEnv(),
  PORT: "0",
  HOST: "127.0.0.1",
  MODAL_TOKEN_ID: "ak-bench",
  MODAL_TOKEN_SECRET: "as-bench-not-a-real-token",
  MODAL_CONFIG_PATH: "/nonexistent/modal.toml",
  LOG_LEVEL: "warn",
  RECONCILE_INTERVAL: "2s",
  UNSERVED_JOB_GRACE: "2s",
  REGISTRATION_GRACE: "6s",
  FINISHED_GRACE: "4s",
  IDLE_RUNNER_TIMEOUT: "30s",
});
const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
const server = await startServer(settings, { modal: modal.client(), logDestination: discard, startupChecks: false });
github.webhookUrl = `http://127.0.0.1:${server.address().port}${settings.github.webhookPath}`;
const runners = attachSimulatedRunners(modal, github, { bootDelayMs: 200, pollMs: 50, jobDurationMs: 1000 });
await server.runtime.fleet.prepare(settings.runner.config.profiles);

globalThis.gc?.();
const baseline = process.memoryUsage().rss;
let peak = baseline;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
const jobs = Array.from({ length: 300 }, (_, i) => github.queueJob({ owner: orgs[i % 10], repo: "app", labels: ["self-hosted", "modal"] }));
await Promise.all(
  jobs.map(async (job, i) => {
    await new Promise((resolve) => setTimeout(resolve, (i * 3000) / jobs.length));
    await github.deliverWorkflowJob("queued", job);
  }),
);
while (!github.jobs().every((job) => job.status === "completed")) await new Promise((resolve) => setTimeout(resolve, 50));
await new Promise((resolve) => setTimeout(resolve, 4500));
clearInterval(sampler);
// What stays alive after the burst (run with --expose-gc): the App's caches and the
// simulators' records of every request and delivery.
globalThis.gc?.();
const liveHeap = process.memoryUsage().heapUsed;
runners.stop();
await server.shutdown(0);
await github.close();
modal.close();
console.log(
  JSON.stringify({
    baselineMiB: Math.round(baseline / 2 ** 20),
    peakMiB: Math.round(peak / 2 ** 20),
    liveHeapMiB: Math.round(liveHeap / 2 ** 20),
    sandboxes: modal.sandboxes().length,
    jobs: jobs.length,
  }),
);
process.exit(0);
