// The `fetch` every Octokit of the App sends its GitHub requests with (Probot's and
// Octokit's `request.fetch` option, documented for exactly this). Node's global fetch
// is undici's WHATWG fetch: for each request it runs the fetch algorithm's controller,
// builds web streams for both bodies (on Node 20 each one made transferable), and tees
// a POST's body to keep a copy for redirects. In the 300-job burst that machinery cost
// more CPU than anything the App itself does per request (docs/performance.md). This is
// the same library's request API (`undici.request`: the same connection pool, parser
// and keep-alive), with the answer buffered: Octokit reads only its status, headers and
// body text, so what it sees is unchanged. Measured on
// one request with a 2 KB JSON answer: about 450 µs of CPU through global fetch, 165 µs
// through this.
//
// What fetch does that Octokit relies on, kept: redirects are followed (up to 20, as
// fetch) unless `redirect: "manual"`; an abort rejects with the signal's reason; any
// other failure rejects with `TypeError("fetch failed")` whose `cause` is the network
// error (@octokit/request reads the cause's message, describeFailure its code).
import { createRequire } from "node:module";
import type { Agent as UndiciAgent, Dispatcher, interceptors } from "undici";

// undici's own modules for the three parts used, not its index: the index also loads its
// WHATWG half (fetch, WebSocket, cookies), which touches Node's global File and Headers
// and so loads Node's bundled copy of undici as well: about 12 MiB of memory at rest for
// nothing the App uses. (undici is pinned; test/github/octokit.test.ts breaks if a
// version moves them.)
const require = createRequire(import.meta.url);
const Agent = require("undici/lib/dispatcher/agent.js") as typeof UndiciAgent;
const redirectInterceptor = require("undici/lib/interceptor/redirect.js") as typeof interceptors.redirect;
/** undici's request API as a dispatcher method (what `undici.request` calls with its dispatcher as `this`). */
const dispatchRequest = require("undici/lib/api/api-request.js") as (
  this: Dispatcher,
  options: Dispatcher.RequestOptions,
) => Promise<Dispatcher.ResponseData>;

/** Statuses whose answer has no body (fetch gives none for them). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/** fetch's own limit on redirects followed. */
const MAX_REDIRECTIONS = 20;

/**
 * A fetch for Octokit over one connection pool of its own. `agent` is for tests (and
 * for closing the pool): by default a new undici Agent with fetch's defaults.
 */
export function createUndiciFetch(agent: Dispatcher = new Agent()): typeof fetch {
  const following = agent.compose(redirectInterceptor({ maxRedirections: MAX_REDIRECTIONS }));
  return async (input, init = {}) => {
    const url = typeof input === "string" || input instanceof URL ? String(input) : input.url;
    let answer: Dispatcher.ResponseData;
    try {
      const { origin, pathname, search } = new URL(url);
      answer = await dispatchRequest.call(init.redirect === "manual" ? agent : following, {
        origin,
        path: `${pathname}${search}`,
        method: (init.method ?? "GET") as Dispatcher.HttpMethod,
        headers: init.headers as Record<string, string> | undefined,
        body: init.body as string | Buffer | undefined,
        signal: init.signal ?? undefined,
      });
    } catch (error) {
      if (init.signal?.aborted && error === init.signal.reason) throw error;
      throw new TypeError("fetch failed", { cause: error });
    }
    const empty = NULL_BODY_STATUSES.has(answer.statusCode) || init.method === "HEAD";
    const body = empty ? (await answer.body.dump(), null) : Buffer.from(await answer.body.arrayBuffer());
    return new BufferedResponse(
      answer.statusCode,
      answer.statusText ?? "",
      url,
      new BufferedHeaders(answer.headers),
      body,
    ) as unknown as Response;
  };
}

/**
 * The headers of an answer as fetch's Headers shows them to a reader: names lower-cased,
 * repeated values joined with ", ", and iteration in name order with each set-cookie on
 * its own (the spec's "sort and combine").
 */
class BufferedHeaders {
  readonly #values = new Map<string, string>();
  readonly #cookies: string[] = [];

  constructor(raw: Dispatcher.ResponseData["headers"]) {
    for (const [name, value] of Object.entries(raw)) {
      if (value === undefined) continue;
      const values = Array.isArray(value) ? value : [value];
      const key = name.toLowerCase();
      if (key === "set-cookie") this.#cookies.push(...values);
      const joined = [this.#values.get(key), ...values].filter((one) => one !== undefined).join(", ");
      this.#values.set(key, joined);
    }
  }

  get(name: string): string | null {
    return this.#values.get(name.toLowerCase()) ?? null;
  }

  has(name: string): boolean {
    return this.#values.has(name.toLowerCase());
  }

  *[Symbol.iterator](): IterableIterator<[string, string]> {
    for (const name of [...this.#values.keys()].sort()) {
      if (name === "set-cookie") for (const cookie of this.#cookies) yield [name, cookie];
      else yield [name, this.#values.get(name)!];
    }
  }

  entries(): IterableIterator<[string, string]> {
    return this[Symbol.iterator]();
  }
}

/**
 * What Octokit reads of a fetch Response (@octokit/request's fetch wrapper): the status,
 * the url, the headers, and the whole body as text or bytes. Built as a plain object, not
 * a WHATWG Response: constructing one loads and runs Node's own copy of undici (its
 * Headers, body streams made transferable), which cost about 12 MiB of memory and 5 % of
 * the App's CPU in the 300-job burst (docs/performance.md). test/github/octokit.test.ts
 * checks that Octokit makes the same of it as of Node's fetch.
 */
class BufferedResponse {
  readonly ok: boolean;
  readonly redirected = false;
  readonly #body: Buffer | null;

  constructor(
    readonly status: number,
    readonly statusText: string,
    readonly url: string,
    readonly headers: BufferedHeaders,
    body: Buffer | null,
  ) {
    this.ok = status >= 200 && status < 300;
    this.#body = body;
  }

  async text(): Promise<string> {
    return this.#body ? new TextDecoder().decode(this.#body) : "";
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const body = this.#body ?? Buffer.alloc(0);
    return body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer;
  }
}
