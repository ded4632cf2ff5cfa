// The last step of GitHub's manifest flow: the code GitHub hands back (valid for one
// hour, once) is exchanged for the new App's id and credentials. The call needs no
// authentication: the code is the credential.
import { ProbotOctokit } from "probot";

export interface CreatedApp {
  id: number;
  slug: string;
  htmlUrl: string;
  pem: string;
  webhookSecret: string;
  clientId: string;
  clientSecret: string;
}

/** A browser waits on this call: an unreachable GitHub is reported after this long, not after retries. */
export const CONVERSION_TIMEOUT_MS = 10_000;

export async function convertManifestCode(code: string, apiUrl: string, timeoutMs = CONVERSION_TIMEOUT_MS): Promise<CreatedApp> {
  // No retries: the code is valid once, and the person at the browser can simply try again.
  const octokit = new ProbotOctokit({ baseUrl: apiUrl, retry: { enabled: false }, throttle: { enabled: false } });
  const { data } = await octokit.request("POST /app-manifests/{code}/conversions", {
    code,
    request: { signal: AbortSignal.timeout(timeoutMs) },
  });
  return {
    id: data.id,
    slug: data.slug ?? "",
    htmlUrl: data.html_url,
    pem: data.pem,
    webhookSecret: data.webhook_secret ?? "",
    clientId: data.client_id,
    clientSecret: data.client_secret,
  };
}

/** What the callback page says when the conversion failed: GitHub's answer, or why there was none. */
export function describeConversionFailure(error: unknown): string {
  const failure = (error ?? {}) as { status?: number; response?: unknown; message?: string };
  if (failure.response !== undefined && failure.status !== undefined) {
    return failure.status === 404
      ? "GitHub does not know this code (it is valid once, for one hour). Create the App again."
      : `GitHub answered ${failure.status}: try again.`;
  }
  return `GitHub could not be reached (${failure.message || "no answer"}): check GHE_HOST and the network, then try again.`;
}
