// The installation router: an owner removed, suspended or unsuspended the App, or
// took repositories away from it. Like the workflow_job router it never waits for
// GitHub or Modal; it forgets what can no longer be served and asks the reconciler
// for a pass, which reads the App's installation list (the truth: an event may be
// forged only with the webhook secret, but it may be lost) and terminates what the
// installation left running (see plan-repairs.ts, rule 0).
//
//   installation.deleted / suspend → stop waiting for its jobs, forget its
//                                    repositories, a pass soon
//   installation.unsuspend         → a full sweep soon: GitHub sends no webhooks
//                                    to a suspended installation, so its queued
//                                    jobs are known only from a sweep
//   installation_repositories.removed → stop waiting for those repositories' jobs,
//                                    forget them
import type { Logger } from "pino";
import { fullName, repositoryKey, type JobRef } from "../model/job.js";

export interface InstallationDeps {
  /** Drops the waiting jobs `match` selects from the dispatcher; returns how many. */
  dropWaiting: (match: (job: JobRef) => boolean) => number;
  /** Forgets an installation (or some of its repositories) in the caches that hold them. */
  forget: (match: { installationId: number; repositories?: string[] }) => void;
  /** Asks the reconciler for a pass shortly. */
  reconcileSoon: (reason: string, options?: { full?: boolean }) => void;
  log: Logger;
}

interface InstallationPayload {
  action?: unknown;
  installation?: { id?: unknown; account?: { login?: unknown } | null };
  repositories_removed?: unknown;
}

/** The `installation` and `installation_repositories` events (one handler: GitHub's `x-github-event` tells the router which). */
export function onInstallation(deps: InstallationDeps) {
  const { log } = deps;
  return (payload: unknown, deliveryId: string): void => {
    const loose = (payload ?? {}) as InstallationPayload;
    const installationId = loose.installation?.id;
    const action = typeof loose.action === "string" ? loose.action : undefined;
    const account = typeof loose.installation?.account?.login === "string" ? loose.installation.account.login : undefined;
    const fields = { deliveryId, action, installationId, account };
    if (typeof installationId !== "number" || !Number.isSafeInteger(installationId)) {
      log.warn({ ...fields, reason: "no installation id" }, "webhook rejected");
      return;
    }
    const ofInstallation = (job: JobRef) => job.installationId === installationId;

    switch (action) {
      case "deleted":
      case "suspend": {
        const dropped = deps.dropWaiting(ofInstallation);
        deps.forget({ installationId });
        log.info({ ...fields, dropped }, action === "deleted" ? "the App was uninstalled" : "the App's installation was suspended");
        deps.reconcileSoon(`installation ${action}`);
        return;
      }
      case "unsuspend":
        log.info(fields, "the App's installation was unsuspended");
        deps.reconcileSoon("installation unsuspended", { full: true });
        return;
      case "removed": {
        const removed = repositoriesRemoved(loose.repositories_removed);
        if (removed.length === 0) return;
        const names = new Set(removed.map(repositoryKey));
        const dropped = deps.dropWaiting((job) => ofInstallation(job) && names.has(repositoryKey(fullName(job.repository))));
        deps.forget({ installationId, repositories: removed });
        log.info({ ...fields, repositories: removed.length, dropped }, "repositories were taken away from the App's installation");
        return;
      }
      default:
        log.debug(fields, "installation action not handled");
    }
  };
}

/** Full names of the removed repositories (bounded: GitHub lists at most a few thousand). */
function repositoriesRemoved(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list
    .slice(0, 10_000)
    .map((repository: { full_name?: unknown } | null) => repository?.full_name)
    .filter((name): name is string => typeof name === "string" && name.length <= 200 && name.includes("/"));
}
