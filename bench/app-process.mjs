// The App alone in a process of its own, for the figures a process of its own gives
// truly: peak RSS, live heap and CPU time per job. The App from dist/, and nothing
// else: no Jest, no fake. Both fakes run in the benchmark's process (org-scale.bench.ts),
// which passes their settings in APP_ENV and the environment; the App reaches the fake
// Modal over gRPC (MODAL_SERVER_URL), as it reaches Modal in production. Over IPC:
// "start" marks the start of the measured burst; "report" answers with the figures.
import { Writable } from "node:stream";
import { startServer } from "../dist/server.js";
import { loadSettings } from "../dist/settings/load-settings.js";

const settings = loadSettings(JSON.parse(process.env.APP_ENV));
const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
const server = await startServer(settings, { logDestination: discard, startupChecks: false });
await server.runtime.fleet.prepare(settings.runner.config.profiles);

globalThis.gc?.();
const baseline = process.memoryUsage().rss;
// The peak is the kernel's high-water mark of the process's resident set (getrusage's
// maxrss, KiB): exact, and free. Sampling rss() every 20 ms, as before, missed peaks
// between samples and cost the App 4-5 % of its CPU in the burst (a /proc read each time).
const peakRss = () => process.resourceUsage().maxRSS * 1024;

/** GitHub and Modal calls of reconcile passes so far (the reconciler counts its own). */
async function reconcileCalls() {
  const metric = (await server.runtime.metrics.registry.getMetricsAsJSON()).find(
    (entry) => entry.name === "modal_runner_reconcile_api_calls_total",
  );
  const value = (api) => Number(metric?.values.find((entry) => entry.labels.api === api)?.value ?? 0);
  return { github: value("github"), modal: value("modal") };
}

let start = { cpu: process.cpuUsage(), reconcile: { github: 0, modal: 0 } };
process.on("message", async (message) => {
  if (message === "start") {
    start = { cpu: process.cpuUsage(), reconcile: await reconcileCalls() };
    process.send({ started: true });
  }
  if (message === "report") {
    const cpu = process.cpuUsage(start.cpu);
    const reconcile = await reconcileCalls();
    globalThis.gc?.();
    const mib = (bytes) => Math.round(bytes / 2 ** 20);
    process.send({
      baselineMiB: mib(baseline),
      peakMiB: mib(peakRss()),
      liveHeapMiB: mib(process.memoryUsage().heapUsed),
      cpuMs: (cpu.user + cpu.system) / 1000,
      cpuSystemMs: cpu.system / 1000,
      reconcile: { github: reconcile.github - start.reconcile.github, modal: reconcile.modal - start.reconcile.modal },
    });
  }
  if (message === "stop") {
    await server.shutdown(0);
    process.exit(0);
  }
});
process.send({ port: server.address().port });
