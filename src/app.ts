// The Probot app: webhook deliveries in, work handed to the dispatcher, answer out.
// Nothing here waits for GitHub or Modal, so GitHub always gets a fast answer.
import type { ModalClient } from "modal";
import type { ApplicationFunction, Probot } from "probot";
import { Dispatcher } from "./dispatch/dispatcher.js";
import { serveJob } from "./dispatch/serve-job.js";
import { describeFailure } from "./errors.js";
import { fullName, jobFromWebhook } from "./github/job-ref.js";
import { RunnerScopes } from "./github/runner-scope.js";
import type { AppOctokit } from "./github/create-octokit-class.js";
import { Fleet } from "./modal/fleet.js";
import type { RetryOptions } from "./modal/with-modal-retry.js";
import { decideToServe } from "./policy/decide-to-serve.js";
import type { Settings } from "./settings/load-settings.js";

export interface AppOptions {
  settings: Settings;
  modal: ModalClient;
  /** Tests shorten Modal's retry backoff. */
  modalRetry?: RetryOptions;
  now?: () => number;
  /** Receives the running parts, for tests and the CLI. */
  onReady?: (parts: AppParts) => void;
}

export interface AppParts {
  dispatcher: Dispatcher;
  fleet: Fleet;
}

export function createApp(options: AppOptions): ApplicationFunction {
  const { settings } = options;
  const now = options.now ?? Date.now;

  return (app: Probot) => {
    const log = app.log;
    const fleet = new Fleet(options.modal, { ...settings.modal, image: settings.runner.image, retry: options.modalRetry }, log.child({ name: "modal" }));
    const scopes = new RunnerScopes(settings.runner.scope, settings.runner.group);
    const orphanSightings = new Map<string, number>();
    const firstSeenOrphan = (key: string) => {
      if (!orphanSightings.has(key)) orphanSightings.set(key, now());
      return orphanSightings.get(key)!;
    };

    const dispatcher = new Dispatcher({
      concurrency: settings.dispatch.concurrency,
      log: log.child({ name: "dispatch" }),
      serve: async (job) => {
        const octokit = (await app.auth(job.installationId)) as AppOctokit;
        return serveJob(job, { octokit, fleet, scopes, settings, firstSeenOrphan, now, log });
      },
    });

    app.on("workflow_job", async (context) => {
      const { action } = context.payload;
      const parsed = jobFromWebhook(context.payload);
      const fields = { deliveryId: context.id, action, jobId: context.payload.workflow_job?.id, repo: context.payload.repository?.full_name };
      if ("rejected" in parsed) {
        log.warn({ ...fields, reason: parsed.rejected }, "webhook rejected");
        return;
      }
      const { job } = parsed;
      if (action !== "queued") {
        log.debug(fields, "workflow_job action not handled");
        return;
      }
      const decision = decideToServe(job, { runnerLabel: settings.runner.label, ...settings.policy });
      if (!decision.serve) {
        if (decision.notOurs) log.debug({ ...fields, reason: decision.reason }, "job ignored");
        else log.info({ ...fields, reason: decision.reason }, "job refused by policy");
        return;
      }
      const queued = dispatcher.enqueue(job);
      log.info({ ...fields, repo: fullName(job.repository), labels: job.labels, duplicate: !queued }, "job queued for a runner");
    });

    // Resolve the Modal app and image now, so the first job does not wait for them.
    fleet.resolve().catch((error: unknown) =>
      log.error({ reason: describeFailure(error).reason }, "Modal app or runner image not ready; will try again with the next job"),
    );
    options.onReady?.({ dispatcher, fleet });
  };
}
