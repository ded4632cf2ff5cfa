// Probot gives every delivery's handlers an Octokit for the delivery's installation
// (`context.octokit`): its webhook transform asks the App client's auth strategy for an
// "event-octokit", and Probot's strategy builds a new authenticated client each time
// (an Octokit with every plugin, and a new App-auth state). Three deliveries a job, that
// was a tenth of the App's CPU in the 300-job burst (docs/performance.md), and the
// App's handlers never use that client: they use the kept clients of runtime-io.ts.
//
// This wraps Probot's strategy (`authStrategy`, the option Octokit documents for it):
// an event's client is built once per installation and kept, as runtime-io.ts keeps
// the App's own. It is what Probot would build: Probot's strategy builds it, with the
// same options, and renews its installation token by itself. Deliveries that Probot
// answers with something else are left to Probot: installation events (an
// unauthenticated client once access is revoked) and events without an installation.
// One consequence: Probot stamps a client's requests with the `x-github-delivery` of
// the first delivery it served (an undocumented header GitHub support may read); no
// request of the App goes through these clients.
import type { createProbotAuth } from "octokit-auth-probot";
import { PromiseMemo } from "../lib/promise-memo.js";

/** What Probot's webhook transform asks the auth strategy for. */
interface EventAuthOptions {
  type: "event-octokit";
  event: { name: string; payload: { installation?: { id?: unknown } | null } };
}

type ProbotAuthStrategy = typeof createProbotAuth;
type ProbotAuth = ReturnType<ProbotAuthStrategy>;

/** Installations whose event client is kept (each about 14 KiB). */
const MAX_KEPT = 2000;

/** Probot's auth strategy, with event clients kept per installation. */
export function keepEventOctokits(strategy: ProbotAuthStrategy, limit = MAX_KEPT): ProbotAuthStrategy {
  const keeping = (strategyOptions: Parameters<ProbotAuthStrategy>[0]): ProbotAuth => {
    const auth = strategy(strategyOptions);
    let kept: PromiseMemo<number, unknown> | undefined;
    const keptAuth = (authOptions: Parameters<ProbotAuth>[0]): Promise<unknown> => {
      const installationId = keptInstallation(authOptions);
      if (installationId === undefined) return auth(authOptions);
      kept ??= new PromiseMemo(limit);
      return kept.get(installationId, () => auth(authOptions));
    };
    return Object.assign(keptAuth, { hook: auth.hook });
  };
  return Object.assign(keeping, { VERSION: strategy.VERSION });
}

/** The installation whose event client may be kept, if this asks for one. */
function keptInstallation(authOptions: unknown): number | undefined {
  const options = authOptions as Partial<EventAuthOptions> | undefined;
  if (options?.type !== "event-octokit" || !options.event) return undefined;
  if (options.event.name === "installation") return undefined;
  const id = options.event.payload.installation?.id;
  return typeof id === "number" && Number.isSafeInteger(id) && id > 0 ? id : undefined;
}
