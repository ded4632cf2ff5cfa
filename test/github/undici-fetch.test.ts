// The App's fetch (undici's request API) must look to Octokit exactly like Node's
// global fetch. Each case sends the same request through Probot's Octokit twice, once
// with each fetch, to a local server, and compares what Octokit made of the answer:
// data, status and headers, or the error (status, message, what describeFailure says).
// (A network failure's message is left out: Octokit copies the cause's message only when
// it is an Error of its own realm, which Node's errors are not inside Jest's vm modules.)
import type { IncomingMessage, ServerResponse } from "node:http";
import { ProbotOctokit } from "probot";
import { Agent } from "undici";
import { createUndiciFetch } from "../../src/github/undici-fetch.js";
import { describeFailure } from "../../src/lib/errors.js";
import { serveHandler } from "../support/serve-handler.js";

const agent = new Agent();
const undiciFetch = createUndiciFetch(agent);
let server: Awaited<ReturnType<typeof serveHandler>>;
/** Requests the server saw: method, path and body. */
let seen: string[];

function readAll(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let body = "";
    req.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
    req.on("end", () => resolve(body));
  });
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}) =>
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers }).end(JSON.stringify(body));

beforeAll(async () => {
  server = await serveHandler(async (req, res) => {
    const body = await readAll(req);
    seen.push(`${req.method} ${req.url} ${body}`);
    switch (req.url) {
      case "/repos/acme/api":
        json(
          res,
          200,
          { id: 1, full_name: "acme/api", big: 12345678901234567890 },
          {
            etag: '"v1"',
            link: '<https://api.github.com/x?page=2>; rel="next"',
            "set-cookie": ["a=1", "b=2"],
          },
        );
        return true;
      case "/echo":
        json(res, 201, { method: req.method, type: req.headers["content-type"], body: JSON.parse(body) as unknown });
        return true;
      case "/empty":
        res.writeHead(204).end();
        return true;
      case "/unchanged":
        res.writeHead(304, { etag: '"v1"' }).end();
        return true;
      case "/missing":
        json(res, 404, { message: "Not Found", documentation_url: "https://docs.github.com/rest" });
        return true;
      case "/conflict":
        json(res, 409, { message: "Already exists", errors: [{ code: "already_exists" }] });
        return true;
      case "/moved":
        res.writeHead(307, { location: "/echo" }).end();
        return true;
      case "/text":
        res.writeHead(200, { "content-type": "text/plain; charset=utf-8" }).end("plain words");
        return true;
      case "/slow":
        setTimeout(() => json(res, 200, {}), 5000).unref();
        return true;
      default:
        return false;
    }
  });
});

afterAll(async () => {
  await server.close();
  await agent.close();
});

beforeEach(() => {
  seen = [];
});

const octokitWith = (fetch: typeof globalThis.fetch, baseUrl = server.url) =>
  new ProbotOctokit({ baseUrl, request: { fetch }, retry: { enabled: false }, throttle: { enabled: false } });

/** What Octokit made of one request: the parts of the answer that reach the App, or of the error. */
async function outcome(fetch: typeof globalThis.fetch, route: string, parameters: Record<string, unknown> = {}, baseUrl?: string) {
  try {
    const { status, data, headers } = await octokitWith(fetch, baseUrl).request(route, parameters);
    const { date: _date, "keep-alive": _keepAlive, connection: _connection, ...stable } = headers as Record<string, unknown>;
    return { status, data: data as unknown, headers: stable };
  } catch (error) {
    const { name, message, status } = error as { name: string; message: string; status?: number };
    return { error: { name, status, ...describeFailure(error), ...(status === 500 ? {} : { message }) } };
  }
}

test.each<[string, string, Record<string, unknown>?]>([
  ["a JSON answer with an ETag, a Link and two cookies (and a number past 2^53)", "GET /repos/acme/api"],
  ["a POST with a JSON body", "POST /echo", { name: "modal-1-0", labels: ["modal"] }],
  ["204 No Content", "DELETE /empty"],
  ["304 Not Modified", "GET /unchanged"],
  ["a 404 with GitHub's error body", "GET /missing"],
  ["a 409 with errors", "POST /conflict", { name: "modal-1-0" }],
  ["a 307 redirect of a POST, followed with its body", "POST /moved", { name: "modal-1-0" }],
  ["a 307 redirect not followed (redirect: manual)", "POST /moved", { name: "modal-1-0", request: { redirect: "manual" } }],
  ["a text answer", "GET /text"],
])("%s: the same outcome and the same requests as with Node's fetch", async (_case, route, parameters = {}) => {
  const viaGlobal = await outcome(globalThis.fetch, route, parameters);
  const globalRequests = seen.splice(0);
  const viaUndici = await outcome(undiciFetch, route, parameters);

  expect(viaUndici).toEqual(viaGlobal);
  expect(seen).toEqual(globalRequests);
});

test("a refused connection: the same error, retryable, with the network code", async () => {
  const closed = await serveHandler(() => false);
  await closed.close();
  const viaGlobal = await outcome(globalThis.fetch, "GET /repos/acme/api", {}, closed.url);
  const viaUndici = await outcome(undiciFetch, "GET /repos/acme/api", {}, closed.url);

  expect(viaUndici).toEqual(viaGlobal);
  expect(viaUndici).toMatchObject({ error: { status: 500, retryable: true } });
  expect((viaUndici as { error: { reason: string } }).error.reason).toContain("ECONNREFUSED");
});

test("an aborted request: the same error as fetch's, without waiting for the answer (5 s)", async () => {
  const abortedWith = async (fetch: typeof globalThis.fetch) => {
    const controller = new AbortController();
    const pending = outcome(fetch, "GET /slow", { request: { signal: controller.signal } });
    setTimeout(() => controller.abort(), 50);
    return pending;
  };
  const viaGlobal = await abortedWith(globalThis.fetch);
  const viaUndici = await abortedWith(undiciFetch);

  expect(viaUndici).toEqual(viaGlobal);
  expect(viaUndici).toMatchObject({ error: { status: 500 } });
});
