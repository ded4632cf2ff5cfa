// The `fetch` every Octokit of the App sends its GitHub requests with (Probot's and
// Octokit's `request.fetch` option, documented for exactly this). Node's global fetch
// is undici's WHATWG fetch: for each request it runs the fetch algorithm's controller,
// builds web streams for both bodies (on Node 20 each one made transferable), and tees
// a POST's body to keep a copy for redirects. In the 300-job burst that machinery cost
// more CPU than anything the App itself does per request (docs/performance.md). This is
// the same library's request API (`undici.request`: the same connection pool, parser
// and keep-alive), with the answer buffered into a standard Response: Octokit reads
// only its status, headers and body text, so what it sees is unchanged. Measured on
// one request with a 2 KB JSON answer: about 450 µs of CPU through global fetch, 165 µs
// through this.
//
// What fetch does that Octokit relies on, kept: redirects are followed (up to 20, as
// fetch) unless `redirect: "manual"`; an abort rejects with the signal's reason; any
// other failure rejects with `TypeError("fetch failed")` whose `cause` is the network
// error (@octokit/request reads the cause's message, describeFailure its code).
import { Agent, interceptors, request, type Dispatcher } from "undici";

/** Statuses whose Response must have no body (the Response constructor refuses one). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/** fetch's own limit on redirects followed. */
const MAX_REDIRECTIONS = 20;

/**
 * A fetch for Octokit over one connection pool of its own. `agent` is for tests (and
 * for closing the pool): by default a new undici Agent with fetch's defaults.
 */
export function createUndiciFetch(agent: Dispatcher = new Agent()): typeof fetch {
  const following = agent.compose(interceptors.redirect({ maxRedirections: MAX_REDIRECTIONS }));
  return async (input, init = {}) => {
    const url = typeof input === "string" || input instanceof URL ? String(input) : input.url;
    let answer: Dispatcher.ResponseData;
    try {
      answer = await request(url, {
        dispatcher: init.redirect === "manual" ? agent : following,
        method: (init.method ?? "GET") as Dispatcher.HttpMethod,
        headers: init.headers as Record<string, string> | undefined,
        body: init.body as string | Buffer | undefined,
        signal: init.signal ?? undefined,
      });
    } catch (error) {
      if (init.signal?.aborted && error === init.signal.reason) throw error;
      throw new TypeError("fetch failed", { cause: error });
    }
    const headers = new Headers();
    for (const [name, value] of Object.entries(answer.headers)) {
      if (Array.isArray(value)) for (const one of value) headers.append(name, one);
      else if (value !== undefined) headers.append(name, value);
    }
    const empty = NULL_BODY_STATUSES.has(answer.statusCode) || init.method === "HEAD";
    const body = empty ? (await answer.body.dump(), null) : await answer.body.arrayBuffer();
    const response = new Response(body, { status: answer.statusCode, statusText: answer.statusText ?? "", headers });
    // A constructed Response has no url: give it the one asked for (Octokit copies it into
    // its response; nothing here reads it, and after a redirect fetch would give the last).
    Object.defineProperty(response, "url", { value: url });
    return response;
  };
}
