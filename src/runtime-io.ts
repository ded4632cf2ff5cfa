// How the App talks to the world: the logger that scrubs secrets, GitHub through
// Probot's authentication (App JWT, installation tokens) and our tuned Octokit,
// and the Modal client. The server, the CLI and the tests build it here; tests
// inject the fakes' clients and shorter backoffs through RuntimeOptions, the one
// type for what a test may change.
import { ModalClient } from "modal";
import type { DestinationStream, Logger } from "pino";
import { Probot } from "probot";
import { createOctokitClass, DEFAULT_OCTOKIT_TUNING, type AppOctokit, type OctokitTuning } from "./github/create-octokit-class.js";
import { GITHUB_SECONDARY_LIMITS, type BudgetLimits } from "./github/installation-budget.js";
import { RequestBudgets, type BudgetFactory } from "./github/request-budgets.js";
import { SharedInstallationBudget } from "./github/shared-installation-budget.js";
import { createUndiciFetch } from "./github/undici-fetch.js";
import { systemClock, type Clock } from "./lib/clock.js";
import { PromiseMemo } from "./lib/promise-memo.js";
import type { FleetOptions } from "./modal/fleet.js";
import { DEFAULT_MODAL_RETRY, type RetryOptions } from "./modal/with-modal-retry.js";
import { createLogger } from "./telemetry/create-logger.js";
import { GitHubReachability } from "./telemetry/github-reachability.js";
import { RedisLink } from "./replicas/redis-link.js";
import { ReplicaRegistry } from "./replicas/replica-registry.js";
import type { Settings } from "./settings/load-settings.js";

/** What tests (and nothing else) change about how the App talks to the world. */
export interface RuntimeOptions {
  modal?: ModalClient;
  octokitTuning?: Partial<OctokitTuning>;
  modalRetry?: RetryOptions;
  /** Benchmarks shrink GitHub's one-minute secondary-limit window (with the fake's). */
  budgetLimits?: Partial<BudgetLimits>;
  /** Tests shorten the Modal circuit breaker's probe backoff. */
  modalBreaker?: FleetOptions["breaker"];
  logDestination?: DestinationStream;
  /** Secrets the logger must scrub besides those in the settings (e.g. MODAL_TOKEN_SECRET). */
  extraSecrets?: (string | undefined)[];
  now?: () => number;
  /**
   * The App's time and timers (reconciler, dispatcher, Modal breaker, GitHub budgets):
   * tests pass one they advance by hand instead of waiting. Its now() wins over `now`.
   */
  clock?: Clock;
  /** false: no reconcile pass at start-up nor on a timer (tests and the CLI drive passes). */
  reconcileOnTimer?: boolean;
  /** false: the server does not run the doctor's checks at start-up (tests count every request). */
  startupChecks?: boolean;
  /** This replica's name in a fleet (default: host name and pid). */
  replicaName?: string;
  /** How long a replica's published view lives without being renewed (default 30 s). */
  replicaTtlMs?: number;
}

/** What the replicas of a fleet share (REDIS_URL); absent for a single process. */
export interface SharedState {
  link: RedisLink;
  registry: ReplicaRegistry;
  /** Redis round trips made by this replica (the docs report them per job). */
  roundTrips: { count: number };
}

/**
 * Who a client is for. The reconciler gets clients of its own, because it hooks its
 * requests (to count them and send them as background requests in the budget).
 */
export type ClientRole = "dispatch" | "reconcile";

/** GitHub as the App's parts see it: Octokit clients, authenticated. */
export interface GitHubAccess {
  /** As the App itself (JWT): installations, the delivery log. */
  app(role?: ClientRole): Promise<AppOctokit>;
  /** As one installation (an installation token, cached and renewed by Probot). */
  installation(installationId: number, role?: ClientRole): Promise<AppOctokit>;
}

export interface RuntimeIo {
  log: Logger;
  /**
   * The Probot the clients come from: our Octokit class (budget, plugin-retry, ETags) and
   * our logger. `npm start` mounts the app function on it, so there `app === io.probot`,
   * `app.log` is this logger and `app.auth()` gives these clients. Under `probot run`,
   * Probot's own instance (its stock Octokit) only receives webhooks.
   */
  probot: Probot;
  modal: ModalClient;
  github: GitHubAccess;
  /** Each installation's share of GitHub's secondary rate limit (for the status page and metrics). */
  budgets: RequestBudgets;
  modalRetry?: RetryOptions;
  modalBreaker?: FleetOptions["breaker"];
  /** Whether GitHub answered the App's last calls (for /health and the status page). */
  githubReachability?: GitHubReachability;
  /** Set with REDIS_URL: the fleet's shared state. */
  shared?: SharedState;
  now: () => number;
  /** Timers on the same time as `now` (absent: the system clock's). */
  clock?: Clock;
}

export function createRuntimeIo(settings: Settings, options: RuntimeOptions = {}): RuntimeIo {
  const log: Logger = createLogger({
    level: settings.logLevel,
    secrets: [
      settings.github.privateKey,
      settings.github.webhookSecret,
      settings.reconcile.secret,
      settings.observe.statusToken,
      ...(options.extraSecrets ?? []),
    ],
    destination: options.logDestination,
  });
  const clients = new PromiseMemo<string, AppOctokit>();
  const clock: Clock = options.clock ?? { ...systemClock, now: options.now ?? Date.now };
  const now = clock.now;
  const reachability = new GitHubReachability(now);
  // Every call's outcome (App JWT, installation tokens, the API) says whether GitHub answers.
  const watched = async (authenticate: () => Promise<unknown>): Promise<AppOctokit> => {
    let octokit: AppOctokit;
    try {
      octokit = (await authenticate()) as AppOctokit;
    } catch (error) {
      reachability.failed(error);
      throw error;
    }
    octokit.hook.after("request", () => reachability.answered());
    octokit.hook.error("request", (error) => {
      reachability.failed(error);
      throw error;
    });
    return octokit;
  };
  const shared = settings.redisUrl ? connectShared(settings.redisUrl, log, options) : undefined;
  const sharedBudget: BudgetFactory | undefined =
    shared &&
    ((key, limits, clock) =>
      new SharedInstallationBudget({
        link: shared.link,
        key,
        limits,
        clock,
        fleetSize: () => shared.registry.size(),
        onRoundTrip: () => shared.roundTrips.count++,
      }));
  const budgets = new RequestBudgets({ ...GITHUB_SECONDARY_LIMITS, ...options.budgetLimits }, clock, sharedBudget);
  const probot = new Probot({
    appId: settings.github.appId,
    privateKey: settings.github.privateKey,
    secret: settings.github.webhookSecret,
    baseUrl: settings.github.baseUrl,
    webhookPath: settings.github.webhookPath,
    Octokit: createOctokitClass({ ...DEFAULT_OCTOKIT_TUNING, ...options.octokitTuning }, budgets),
    // Every client's requests (installation tokens included) go through undici's request API,
    // not the global fetch: a third of the CPU per request (undici-fetch.ts).
    request: { fetch: createUndiciFetch() },
    log: log.child({ component: "probot" }),
  });
  return {
    log,
    probot,
    budgets,
    modal: options.modal ?? new ModalClient({ environment: settings.modal.environment }),
    github: {
      // One client per installation and role, kept: Probot makes a new one per call,
      // and in a burst those are thousands of short-lived objects; a kept client
      // renews its installation token by itself.
      app: (role = "dispatch") => clients.get(`${role} app`, () => watched(() => probot.auth())),
      installation: (installationId, role = "dispatch") =>
        clients.get(`${role} ${installationId}`, () => watched(() => probot.auth(installationId))),
    },
    modalRetry: options.modalRetry ?? { ...DEFAULT_MODAL_RETRY, attempts: settings.modal.callAttempts },
    modalBreaker: options.modalBreaker,
    githubReachability: reachability,
    shared,
    now,
    clock,
  };
}

function connectShared(url: string, log: Logger, options: RuntimeOptions): SharedState {
  const link = new RedisLink(url, log.child({ component: "redis" }), { replica: options.replicaName });
  return {
    link,
    registry: new ReplicaRegistry(link, options.replicaTtlMs ?? 30_000, options.clock?.now ?? options.now),
    roundTrips: { count: 0 },
  };
}
