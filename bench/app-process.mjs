// The App alone in a process of its own, for the figures a process of its own gives
// truly: peak RSS, live heap and CPU time per job. The App (from dist/) and the
// in-process fake Modal it must have (the SDK's control-plane seam), no Jest and no
// fake GitHub, which runs in the benchmark's process. Started by org-scale.bench.ts
// with the fake GitHub's settings in APP_ENV. Over IPC: "start" marks the start of the
// measured burst; "report" answers with the figures.
import { Writable } from "node:stream";
import { FakeModal } from "@modal-github-runner/simulator/fake-modal";
import { startServer } from "../dist/server.js";
import { loadSettings } from "../dist/settings/load-settings.js";

const modal = new FakeModal({ latencyMs: Number(process.env.LATENCY_MS ?? 0) });
const settings = loadSettings(JSON.parse(process.env.APP_ENV));
const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
const server = await startServer(settings, { modal: modal.client(), logDestination: discard, startupChecks: false });
await server.runtime.fleet.prepare(settings.runner.config.profiles);

globalThis.gc?.();
const baseline = process.memoryUsage().rss;
let peak = baseline;
// rss() alone: process.memoryUsage() also walks the heap's spaces, which costs the App measurable CPU at this pace.
setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20).unref();

/** GitHub and Modal calls of reconcile passes so far (the reconciler counts its own). */
async function reconcileCalls() {
  const metric = (await server.runtime.metrics.registry.getMetricsAsJSON()).find(
    (entry) => entry.name === "modal_runner_reconcile_api_calls_total",
  );
  const value = (api) => Number(metric?.values.find((entry) => entry.labels.api === api)?.value ?? 0);
  return { github: value("github"), modal: value("modal") };
}

let start = { cpu: process.cpuUsage(), modalCalls: 0, reconcile: { github: 0, modal: 0 } };
process.on("message", async (message) => {
  if (message === "start") {
    start = { cpu: process.cpuUsage(), modalCalls: modal.calls.length, reconcile: await reconcileCalls() };
    process.send({ started: true });
  }
  if (message === "report") {
    const cpu = process.cpuUsage(start.cpu);
    const reconcile = await reconcileCalls();
    globalThis.gc?.();
    const mib = (bytes) => Math.round(bytes / 2 ** 20);
    /** When each sandbox name's first create reached Modal. */
    const creates = {};
    for (const call of modal.calls.slice(start.modalCalls)) {
      if (call.method !== "sandboxCreate" && call.method !== "sandboxCreateV2") continue;
      const name = call.request.definition?.name ?? call.request.name;
      if (name && !(name in creates)) creates[name] = call.at;
    }
    process.send({
      baselineMiB: mib(baseline),
      peakMiB: mib(peak),
      liveHeapMiB: mib(process.memoryUsage().heapUsed),
      sandboxes: modal.sandboxes().map((sandbox) => sandbox.name),
      creates,
      cpuMs: (cpu.user + cpu.system) / 1000,
      modalCalls: modal.calls.length - start.modalCalls,
      reconcile: { github: reconcile.github - start.reconcile.github, modal: reconcile.modal - start.reconcile.modal },
    });
  }
  // A runner played by the benchmark finished its job and exited: its sandbox ends, as a real one's does.
  if (typeof message === "object" && message?.exited) {
    const sandbox = modal.byName(message.exited);
    if (sandbox?.state === "running") modal.exitSandbox(sandbox.sandboxId, 0);
  }
  if (message === "stop") {
    await server.shutdown(0);
    modal.close();
    process.exit(0);
  }
});
process.send({ port: server.address().port });
