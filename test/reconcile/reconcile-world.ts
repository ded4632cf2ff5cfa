// Shared set-up for reconciler scenarios: an org with a repository, the App with
// short grace periods, and simulated runners inside the fake sandboxes.
import {
  attachSimulatedRunners,
  type SimulatedRunnerOptions,
  type SimulatedRunners,
} from "@modal-github-runner/simulator/simulated-runner";
import type { Clock } from "../../src/lib/clock.js";
import { startWorld, type RunningApp, type World } from "../support/app-harness.js";

export const FAST_RECONCILE = {
  RECONCILE_INTERVAL: "0",
  IDLE_RUNNER_TIMEOUT: "60s",
  FINISHED_GRACE: "0s",
  REGISTRATION_GRACE: "0s",
  UNSERVED_JOB_GRACE: "0s",
};

export interface ReconcileWorld extends World {
  app: RunningApp;
  runners: SimulatedRunners;
  queueJob(labels?: string[], options?: { createdAt?: Date; repo?: string }): ReturnType<World["github"]["queueJob"]>;
  pass(): ReturnType<RunningApp["parts"]["reconciler"]["run"]>;
}

export async function startReconcileWorld(
  options: {
    env?: Record<string, string>;
    runner?: SimulatedRunnerOptions;
    reconcileOnStart?: boolean;
    repositories?: string[];
    /** The App's clock (a FastForwardClock lets the test skip grace periods and intervals). */
    clock?: Clock;
  } = {},
): Promise<ReconcileWorld> {
  const world = await startWorld();
  const installation = world.github.addInstallation({ account: "octo-org", accountType: "Organization" });
  for (const name of options.repositories ?? ["app"])
    world.github.addRepository({ installationId: installation.id, owner: "octo-org", name });
  const app = await world
    .startApp({ ...FAST_RECONCILE, ...options.env }, { reconcile: options.reconcileOnStart ?? false, clock: options.clock })
    .catch(async (error: unknown) => {
      await world.close();
      throw error;
    });
  const runners = attachSimulatedRunners(world.modal, world.github, { bootDelayMs: 20, pollMs: 10, jobDurationMs: 50, ...options.runner });
  const close = world.close;
  return Object.assign(world, {
    app,
    runners,
    queueJob: (labels = ["self-hosted", "modal"], jobOptions: { createdAt?: Date; repo?: string } = {}) =>
      world.github.queueJob({ owner: "octo-org", repo: jobOptions.repo ?? "app", labels, createdAt: jobOptions.createdAt }),
    pass: () => app.parts.reconciler.run({ reason: "test" }),
    close: async () => {
      runners.stop();
      await close();
    },
  });
}

/** A test's teardown: the fake GitHub saw no request outside GitHub's API description, then the world closes. */
export async function closeChecked(world: ReconcileWorld | undefined): Promise<void> {
  if (!world) return;
  try {
    world.github.assertNoViolations();
  } finally {
    await world.close();
  }
}
