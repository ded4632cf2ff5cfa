// What went wrong with a remote call, in the words a log line needs: a reason a
// person can act on, and whether trying again later can help.
import { ClientError, Status } from "nice-grpc";
import { InternalFailure, TimeoutError } from "modal";

/** A failure that retrying cannot fix (a setting, a permission, an unknown installation). */
export class PermanentError extends Error {
  override name = "PermanentError";
}

/** The HTTP status of a failed GitHub request, if it is one. */
export function httpStatus(error: unknown): number | undefined {
  return typeof error === "object" && error !== null ? (error as { status?: number }).status : undefined;
}

interface HttpError {
  status: number;
  message: string;
  request?: { method?: string; url?: string };
}

function isHttpError(error: unknown): error is HttpError {
  return typeof error === "object" && error !== null && typeof (error as HttpError).status === "number";
}

const TRANSIENT_GRPC = new Set<Status>([
  Status.UNAVAILABLE,
  Status.DEADLINE_EXCEEDED,
  Status.RESOURCE_EXHAUSTED,
  Status.ABORTED,
  Status.INTERNAL,
  Status.UNKNOWN,
  Status.CANCELLED,
]);

/** Modal errors worth another try: the control plane was unreachable, slow or overloaded. */
export function isTransientModalError(error: unknown): error is Error {
  if (error instanceof ClientError) return TRANSIENT_GRPC.has(error.code);
  return error instanceof TimeoutError || error instanceof InternalFailure;
}

export interface FailureReport {
  retryable: boolean;
  reason: string;
}

/** Turns any failure of serving a job into a reason for the log and a retry verdict. */
/**
 * The request that failed was the installation-token request, not the one asked for:
 * its 404 means "no such installation", never "no such file" or "no such repository".
 */
export function isTokenFailure(error: unknown): boolean {
  const url = (error as { request?: { url?: string } } | undefined)?.request?.url;
  return typeof url === "string" && /\/app\/installations\/\d+\/access_tokens/.test(url);
}

export function describeFailure(error: unknown): FailureReport {
  if (error instanceof PermanentError) return { retryable: false, reason: error.message };
  if (error instanceof ClientError) {
    return { retryable: TRANSIENT_GRPC.has(error.code), reason: `Modal ${Status[error.code]}: ${error.details}` };
  }
  if (isHttpError(error)) {
    const where =
      error.request?.method && error.request.url ? ` (${error.request.method} ${new URL(error.request.url, "http://x").pathname})` : "";
    const status = error.status;
    if (status === 401)
      return { retryable: false, reason: `GitHub rejected the App's credentials (401)${where}: check APP_ID and PRIVATE_KEY` };
    if (status === 404 && /access_tokens/.test(error.request?.url ?? "")) {
      return {
        retryable: false,
        reason: `GitHub does not know this installation (404)${where}: the App was uninstalled or APP_ID is wrong`,
      };
    }
    if (status === 403 && /rate limit/i.test(error.message)) return { retryable: true, reason: `GitHub rate limit${where}` };
    // Octokit reports a request that never got an answer (DNS, refused, TLS) as a 500
    // whose cause is the network error: say that, not "GitHub answered 500".
    const network = networkCode(error);
    if (network) return { retryable: true, reason: `could not reach GitHub${where}: ${network} (check GHE_HOST, DNS and the network)` };
    if (status >= 500 || status === 429) return { retryable: true, reason: `GitHub answered ${status}${where}` };
    return { retryable: false, reason: `GitHub answered ${status}${where}: ${error.message.split("\n")[0]}` };
  }
  if (isTransientModalError(error)) return { retryable: true, reason: `Modal: ${error.message}` };
  const message = error instanceof Error ? error.message : String(error);
  // Network failures (fetch failed, ECONNRESET…) are worth another try.
  const network = /fetch failed|ECONN|ETIMEDOUT|EAI_AGAIN|socket/i.test(message + String((error as { cause?: unknown })?.cause ?? ""));
  return { retryable: network, reason: message };
}

const NETWORK_CODES =
  /^(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|UND_ERR_|CERT_|ERR_TLS|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO)/;

/** The network error code behind a failed request (fetch's cause chain), if any. */
function networkCode(error: unknown): string | undefined {
  for (
    let cause = (error as { cause?: unknown }).cause, depth = 0;
    cause && depth < 4;
    cause = (cause as { cause?: unknown }).cause, depth++
  ) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === "string" && NETWORK_CODES.test(code)) return code;
  }
  return undefined;
}
