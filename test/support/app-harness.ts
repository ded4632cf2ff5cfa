// Starts the whole App as a user would run it (settings from an environment,
// Probot server on a real port) against the fakes: a local GitHub REST server and
// the real Modal SDK on a fake control plane. Several Apps may share one pair of
// fakes (replicas).
import type { Runtime } from "../../src/assemble.js";
import type { RuntimeOptions } from "../../src/runtime-io.js";
import { startServer, type RunningServer } from "../../src/server.js";
import { loadSettings, type Settings } from "../../src/settings/load-settings.js";
import { FakeGitHub } from "@modal-github-runner/simulator/fake-github";
import { FakeModal, type FakeModalOptions } from "@modal-github-runner/simulator/fake-modal";
import { appEnv, MODAL_TOKEN_SECRET, STATUS_TOKEN } from "./app-env.js";
import { freePort } from "./free-port.js";
import { LogCapture } from "./log-capture.js";

// The App's environment and `eventually` live in a module that loads none of the App, for
// tests that start it as a process; re-exported here for the others.
export { appEnv, eventually, MODAL_TOKEN_SECRET, STATUS_TOKEN } from "./app-env.js";

export interface RunningApp {
  server: RunningServer;
  settings: Settings;
  parts: Runtime;
  logs: LogCapture;
  url: string;
  webhookUrl: string;
  stop(): Promise<void>;
}

export interface StartAppOptions {
  reconcile?: boolean;
  /** Benchmarks shrink GitHub's secondary-limit window (set the fake's to match). */
  budgetLimits?: RuntimeOptions["budgetLimits"];
  /** Benchmarks use the breaker's timings scaled down rather than the tests' very short ones. */
  modalBreaker?: RuntimeOptions["modalBreaker"];
  /** A replica's name in a fleet sharing REDIS_URL. */
  replicaName?: string;
  /** How long a replica's published view lives (fleet tests shorten it). */
  replicaTtlMs?: number;
  /** The App's time and timers (a FastForwardClock lets a test skip waits); default: the system clock. */
  clock?: RuntimeOptions["clock"];
}

export interface World {
  github: FakeGitHub;
  modal: FakeModal;
  apps: RunningApp[];
  /**
   * Starts one more replica of the App against the same fakes. The reconciler's
   * start-up pass and timer are off unless `reconcile` is true (tests of other
   * behaviour then see only the requests they cause).
   */
  startApp(env?: Record<string, string>, options?: StartAppOptions): Promise<RunningApp>;
  close(): Promise<void>;
}

export interface WorldOptions {
  githubLatencyMs?: number;
  modalLatencyMs?: number;
  /** The timers of the fake Modal's latencies (a ManualClock plays a slow Modal without waiting). */
  modalLatencyTimers?: FakeModalOptions["latencyTimers"];
}

export async function startWorld(options: WorldOptions = {}): Promise<World> {
  const github = await FakeGitHub.start({ latencyMs: options.githubLatencyMs });
  const modal = new FakeModal({ latencyMs: options.modalLatencyMs, latencyTimers: options.modalLatencyTimers });
  const apps: RunningApp[] = [];

  const startApp = async (env: Record<string, string> = {}, appOptions: StartAppOptions = {}): Promise<RunningApp> => {
    const port = await freePort();
    const settings = loadSettings(appEnv(github, port, env));
    const logs = new LogCapture();
    const server = await startServer(settings, {
      modal: modal.client(),
      logDestination: logs,
      extraSecrets: [MODAL_TOKEN_SECRET],
      octokitTuning: { retryBaseMs: 5, rateLimitBaseMs: 5 },
      modalRetry: { attempts: 4, baseDelayMs: 5, maxDelayMs: 20 },
      modalBreaker: appOptions.modalBreaker ?? { probeBaseMs: 20, probeMaxMs: 100 },
      reconcileOnTimer: appOptions.reconcile ?? false,
      startupChecks: false,
      budgetLimits: appOptions.budgetLimits,
      replicaName: appOptions.replicaName,
      replicaTtlMs: appOptions.replicaTtlMs,
      clock: appOptions.clock,
    });
    const url = `http://127.0.0.1:${port}`;
    const app: RunningApp = {
      server,
      settings,
      parts: server.runtime,
      logs,
      url,
      webhookUrl: `${url}${settings.github.webhookPath}`,
      stop: () => server.shutdown(0),
    };
    apps.push(app);
    github.webhookUrl ??= app.webhookUrl;
    return app;
  };

  return {
    github,
    modal,
    apps,
    startApp,
    close: async () => {
      for (const app of apps) await app.stop();
      await github.close();
      modal.close();
    },
  };
}

/** A world with one org ("octo-org") that installed the App, and its repository "app". */
export async function startOrgWorld(options: WorldOptions = {}): Promise<World> {
  const world = await startWorld(options);
  const installation = world.github.addInstallation({ account: "octo-org", accountType: "Organization" });
  world.github.addRepository({ installationId: installation.id, owner: "octo-org", name: "app" });
  return world;
}

/** GET /metrics (or another protected path) with the status token. */
export async function fetchProtected(app: RunningApp, path = "/metrics"): Promise<string> {
  const response = await fetch(`${app.url}${path}`, { headers: { authorization: `Bearer ${STATUS_TOKEN}` } });
  if (!response.ok) throw new Error(`GET ${path} answered ${response.status}`);
  return response.text();
}

/** Waits until webhooks are answered and every App replica has nothing queued or running. */
export async function settled(world: World): Promise<void> {
  for (let round = 0; round < 3; round++) {
    await world.github.settle();
    for (const app of world.apps) await app.parts.idle();
  }
}
