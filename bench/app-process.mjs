// The App alone in a process of its own, for the burst's memory figure: the App
// (from dist/) and the in-process fake Modal it must have (the SDK's control-plane
// seam), no Jest and no fake GitHub, which runs in the benchmark's process. Started
// by org-scale.bench.ts with the fake GitHub's settings in APP_ENV; answers
// "report" with its peak RSS and live heap over IPC.
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
setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20).unref();
process.on("message", async (message) => {
  if (message === "report") {
    globalThis.gc?.();
    const mib = (bytes) => Math.round(bytes / 2 ** 20);
    process.send({
      baselineMiB: mib(baseline),
      peakMiB: mib(peak),
      liveHeapMiB: mib(process.memoryUsage().heapUsed),
      sandboxes: modal.sandboxes().length,
    });
  }
  if (message === "stop") {
    await server.shutdown(0);
    modal.close();
    process.exit(0);
  }
});
process.send({ port: server.address().port });
