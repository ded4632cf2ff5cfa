// An Octokit plugin that makes every GET conditional: it remembers each answer's
// ETag and sends it back as If-None-Match; GitHub then answers 304 without a body,
// and a 304 does not count against the rate limit. The reconciler polls the same
// lists every minute, so most of its reads become free.
import type { Octokit } from "@octokit/core";
import { BoundedMap } from "../lib/bounded.js";
import { httpStatus } from "../lib/errors.js";

interface Remembered {
  etag: string;
  response: unknown;
}

const MAX_ENTRIES = 5000;

export function conditionalRequests(octokit: Octokit, options: { auth?: { installationId?: number } }) {
  const cache = cacheFor(octokit.constructor);
  const scope = String(options.auth?.installationId ?? "app");
  octokit.hook.wrap("request", async (request, requestOptions) => {
    if (requestOptions.method !== "GET") return request(requestOptions);
    const { url } = octokit.request.endpoint.parse(requestOptions);
    const key = `${scope} ${url}`;
    const remembered = cache.get(key);
    if (remembered) requestOptions.headers = { ...requestOptions.headers, "if-none-match": remembered.etag };
    try {
      const response = await request(requestOptions);
      const etag = response.headers.etag;
      // Copies: callers such as octokit.paginate reshape the response they get.
      if (etag) cache.set(key, { etag, response: structuredClone(response) });
      return response;
    } catch (error) {
      if (httpStatus(error) === 304 && remembered) return structuredClone(remembered.response) as Awaited<ReturnType<typeof request>>;
      throw error;
    }
  });
}

// One cache per Octokit class, shared by its instances (one instance per installation token).
// Bounded, the most recently answered kept.
const caches = new WeakMap<object, BoundedMap<string, Remembered>>();

function cacheFor(owner: object): BoundedMap<string, Remembered> {
  let cache = caches.get(owner);
  if (!cache) {
    cache = new BoundedMap(MAX_ENTRIES);
    caches.set(owner, cache);
  }
  return cache;
}
