// One replica of the App in a process of its own, for bench/fleet.bench.ts: the App
// from dist/ with the settings in APP_ENV (REDIS_URL, MODAL_SERVER_URL of the fake
// Modal served over gRPC, the fake GitHub), GitHub's window shrunk to WINDOW_MS like the
// fake's. Reports its port over IPC, then its Redis round trips when asked. SIGTERM
// drains and exits as `npm start` does (src/main.ts), with the drain scaled down.
import { createWriteStream } from "node:fs";
import { Writable } from "node:stream";
import { startServer } from "../dist/server.js";
import { loadSettings } from "../dist/settings/load-settings.js";

const settings = loadSettings(JSON.parse(process.env.APP_ENV));
// LOG_FILE: the replica's JSON log lines, for diagnosing a run (else discarded).
const logDestination = process.env.LOG_FILE
  ? createWriteStream(process.env.LOG_FILE, { flags: "a" })
  : new Writable({ write: (_chunk, _encoding, done) => done() });
const server = await startServer(settings, {
  logDestination,
  startupChecks: false,
  budgetLimits: { windowMs: Number(process.env.WINDOW_MS) },
  replicaName: process.env.REPLICA_NAME,
  replicaTtlMs: 3000,
  modalBreaker: { probeBaseMs: 100, probeMaxMs: 1000 },
});
await server.runtime.fleet.prepare(settings.runner.config.profiles);
const stop = async () => {
  await server.shutdown(2000);
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
process.on("message", (message) => {
  if (message === "report") process.send({ roundTrips: server.runtime.telemetry.snapshot().fleet?.redisRoundTrips ?? 0 });
  if (message === "stop") void stop();
});
process.send({ port: server.address().port });
