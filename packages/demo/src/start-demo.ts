// The demo's world: the simulated GitHub (a REST server on loopback), the simulated
// Modal (in-process, behind the real `modal` SDK), runners that boot in its sandboxes
// and run jobs, a few installations, and the real App started exactly as `npm start`
// starts it, with a generated STATUS_TOKEN. `npm run demo` and the browser test
// both start it here; the scripted workload (run-workload.ts) then drives it.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { DestinationStream } from "pino";
import type { Clock } from "../../../dist/lib/clock.js";
import { startServer, type RunningServer } from "../../../dist/server.js";
import { loadSettings } from "../../../dist/settings/load-settings.js";
import { FakeGitHub } from "@modal-github-runner/simulator/fake-github";
import { FakeModal } from "@modal-github-runner/simulator/fake-modal";
import {
  attachSimulatedRunners,
  type SimulatedRunnerOptions,
  type SimulatedRunners,
} from "@modal-github-runner/simulator/simulated-runner";
import { addDemoAccounts, type DemoAccounts } from "./demo-accounts.js";
import { writeDemoRunnerConfig } from "./demo-runner-config.js";
import { pickPort } from "./pick-port.js";

export interface DemoOptions {
  /** Wanted port (a free one if it is taken); 0: any free port. */
  port: number;
  /** Where the App's JSON log lines go (at LOG_LEVEL, default warn). */
  logDestination: DestinationStream;
  logLevel?: "debug" | "info" | "warn" | "error";
  /** Tests check the fake GitHub against GitHub's OpenAPI description; the demo does not load it. */
  checkOpenApi?: boolean;
  /** How the simulated runners behave (boot time, job length); the demo's defaults look like real jobs, sped up. */
  runners?: SimulatedRunnerOptions;
  /**
   * How fast the demo's time runs: every duration it sets (the App's reconcile interval
   * and grace periods, Modal's retry and breaker backoffs, runner boot and job times, the
   * script's pauses) is multiplied by it. 1 (default) for people watching; tests play
   * the same story at 0.25.
   */
  timeScale?: number;
  /**
   * The world's time and timers: the App's, the simulated GitHub's and Modal's, the runners'
   * and the script's pauses. Default: the wall clock. A test passes a clock it can skip ahead
   * (a reconcile interval, the script's pauses) instead of waiting.
   */
  clock?: Clock;
}

export interface Demo {
  github: FakeGitHub;
  modal: FakeModal;
  server: RunningServer;
  runners: SimulatedRunners;
  accounts: DemoAccounts;
  /** http://127.0.0.1:<port> */
  url: string;
  statusToken: string;
  /** See DemoOptions.timeScale. */
  timeScale: number;
  /** See DemoOptions.clock. */
  clock: Clock;
  stop(): Promise<void>;
}

/** The repository's runner image definition, wherever the demo is started from. */
const RUNNER_DOCKERFILE = fileURLToPath(new URL("../../../docker/runner/Dockerfile", import.meta.url));
const MODAL_TOKEN_SECRET = "as-demo-not-a-real-token";

/** A job runs 4 to 20 s (a fixed function of its id, so one job always takes as long). */
export const demoJobDuration = (jobId: number): number => 4_000 + ((jobId * 7919) % 16_000);
/** One job in twelve fails, as some do. */
const conclusion = (jobId: number): "success" | "failure" => (jobId % 12 === 5 ? "failure" : "success");

/** The wall clock, with timers that keep the process alive (the script's pauses are its life). */
const wallClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export async function startDemo(options: DemoOptions): Promise<Demo> {
  const timeScale = options.timeScale ?? 1;
  const clock = options.clock ?? wallClock;
  /** A duration of the demo's time, as a setting (whole milliseconds). */
  const scaled = (ms: number) => `${Math.max(1, Math.round(ms * timeScale))}ms`;
  const dir = mkdtempSync(path.join(tmpdir(), "modal-runner-demo-"));
  const github = await FakeGitHub.start({ checkOpenApi: options.checkOpenApi ?? false, now: clock.now });
  const modal = new FakeModal({ now: clock.now });
  const accounts = addDemoAccounts(github);
  const port = await pickPort(options.port);
  const statusToken = randomBytes(12).toString("hex");
  const settings = loadSettings(
    {
      ...github.appEnv(),
      PORT: String(port),
      HOST: "127.0.0.1",
      MODAL_TOKEN_ID: "ak-demo",
      MODAL_TOKEN_SECRET,
      MODAL_CONFIG_PATH: path.join(dir, "no-modal.toml"),
      LOG_LEVEL: options.logLevel ?? "warn",
      STATUS_TOKEN: statusToken,
      RUNNER_CONFIG: writeDemoRunnerConfig(dir),
      RUNNER_DOCKERFILE,
      // Minutes in production, seconds here, so the reconciler's repairs show while you watch.
      RECONCILE_INTERVAL: scaled(10_000),
      UNSERVED_JOB_GRACE: scaled(15_000),
      FINISHED_GRACE: scaled(20_000),
      IDLE_RUNNER_TIMEOUT: scaled(60_000),
      REGISTRATION_GRACE: scaled(30_000),
    },
    dir,
  );
  const server = await startServer(settings, {
    modal: modal.client(),
    logDestination: options.logDestination,
    extraSecrets: [MODAL_TOKEN_SECRET],
    // Short backoffs, so the Modal hiccup heals within seconds of its end.
    modalBreaker: { probeBaseMs: 1_000 * timeScale, probeMaxMs: 4_000 * timeScale },
    // The App's default Modal retry (5 attempts, 250 ms doubling to 8 s), on the demo's time scale.
    modalRetry: { attempts: 5, baseDelayMs: 250 * timeScale, maxDelayMs: 8_000 * timeScale },
    clock: options.clock,
  });
  const url = `http://127.0.0.1:${server.address().port}`;
  github.webhookUrl = `${url}${settings.github.webhookPath}`;
  const runners = attachSimulatedRunners(modal, github, {
    clock,
    bootDelayMs: 1_500 * timeScale,
    pollMs: 250 * timeScale,
    jobDurationMs: (jobId) => demoJobDuration(jobId) * timeScale,
    conclusion,
    ...options.runners,
  });

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      runners.stop();
      await server.shutdown(3_000);
      await github.close();
      modal.close();
      rmSync(dir, { recursive: true, force: true });
    })());
  return { github, modal, server, runners, accounts, url, statusToken, timeScale, clock, stop };
}
