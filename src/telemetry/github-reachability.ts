// Whether GitHub answers the App, from the outcomes of the App's own GitHub calls:
// App authentication (the JWT), installation tokens and the REST API all count. A
// call that got no answer (DNS, refused, TLS), a 5xx, or a 401 (GitHub refuses the
// App's key) says GitHub is unreachable for the App; any other answer (200, 404,
// 409, 422…) proves it answers. Cheap: two numbers and a reason, no timer, no probe
// of its own (the reconcile pass calls GitHub every interval).
import { describeFailure, httpStatus } from "../lib/errors.js";
import type { Reachability } from "./status-snapshot.js";

/** Whether a failed call means GitHub cannot be used by the App (as opposed to a refusal about one thing). */
export function meansUnreachable(error: unknown): boolean {
  const status = httpStatus(error);
  return status === undefined || status >= 500 || status === 401;
}

export class GitHubReachability {
  #downSince: number | undefined;
  #reason: string | undefined;

  constructor(private readonly now: () => number) {}

  /** A GitHub call got an answer that proves GitHub and the App's credentials work. */
  answered(): void {
    this.#downSince = undefined;
    this.#reason = undefined;
  }

  /** A GitHub call (or an App/installation authentication) failed. */
  failed(error: unknown): void {
    if (!meansUnreachable(error)) return this.answered();
    this.#downSince ??= this.now();
    this.#reason = describeFailure(error).reason;
  }

  state(): Reachability {
    if (this.#downSince === undefined) return { reachable: true };
    return { reachable: false, since: new Date(this.#downSince).toISOString(), reason: this.#reason };
  }
}
