// Serves the status page (GET / and GET /status), its refreshing fragment
// (GET /status?fragment=1) and its data (GET /status.json), as a Probot
// `addHandler` handler. Only for whoever shows STATUS_TOKEN (Basic password with any
// user name, so a browser prompts; or Bearer). With no token set the page is not
// served at all: the handler falls through, as if the routes did not exist.
import type { IncomingMessage, ServerResponse } from "node:http";
import { authorizeRequest } from "./authorize-request.js";
import { filterStories } from "./job-stories.js";
import { renderStatusFragment, renderStatusPage, STATUS_PAGE_CSP, type StoryFilter } from "./status-page.js";
import type { StatusSnapshot } from "./status-snapshot.js";
import { requestUrl } from "../lib/request-url.js";

export interface StatusHandlerOptions {
  token: string | undefined;
  snapshot: () => StatusSnapshot | Promise<StatusSnapshot>;
}

const COMMON_HEADERS = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

export function statusHandler(options: StatusHandlerOptions) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    if (!options.token) return false;
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    const url = requestUrl(req);
    const route = url.pathname === "/status.json" ? "json" : url.pathname === "/" || url.pathname === "/status" ? "html" : undefined;
    if (!route) return false;

    if (!authorizeRequest(req, options.token)) {
      res
        .writeHead(401, {
          ...COMMON_HEADERS,
          "content-type": "text/plain; charset=utf-8",
          "www-authenticate": 'Basic realm="modal-github-runner status", charset="UTF-8"',
        })
        .end("Unauthorized: give STATUS_TOKEN as the password (any user name) or as a Bearer token.\n");
      return true;
    }

    // ?installation=<id or account>&repo=<owner/name>&outcome=<success|failure|…> narrow the job stories.
    const param = (name: string) => url.searchParams.get(name)?.slice(0, 200) || undefined;
    const filter: StoryFilter = { installation: param("installation"), repo: param("repo"), outcome: param("outcome") };
    const full = await options.snapshot();
    const accounts = new Map(full.installations.map((i) => [i.id, i.account]));
    const snapshot = { ...full, jobStories: filterStories(full.jobStories, filter, accounts) };
    if (route === "json") {
      res
        .writeHead(200, { ...COMMON_HEADERS, "content-type": "application/json; charset=utf-8" })
        .end(req.method === "HEAD" ? undefined : JSON.stringify(snapshot));
      return true;
    }
    const body = url.searchParams.has("fragment") ? renderStatusFragment(snapshot, filter) : renderStatusPage(snapshot, filter);
    res
      .writeHead(200, {
        ...COMMON_HEADERS,
        "content-type": "text/html; charset=utf-8",
        "content-security-policy": STATUS_PAGE_CSP,
        "x-frame-options": "DENY",
      })
      .end(req.method === "HEAD" ? undefined : body);
    return true;
  };
}
