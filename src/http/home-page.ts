// GET / when the status page is off: a short page that says the App runs and how to
// see more, instead of a blank 404. It shows nothing about the deployment.
import type { IncomingMessage, ServerResponse } from "node:http";
import { requestUrl } from "../lib/request-url.js";

export function homePage(options: { statusPage: boolean; webhookPath: string }) {
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.method !== "GET" || requestUrl(req).pathname !== "/") return false;
    const next = options.statusPage
      ? "" // the status page answers / itself when it is on
      : "<p>The status page is off. Set <code>STATUS_TOKEN</code> to serve it here (and <code>/metrics</code> behind the same token).</p>";
    res
      .writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store", "x-content-type-options": "nosniff" })
      .end(
        `<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>modal-github-runner</title>` +
          `<h1>modal-github-runner is running</h1><p>GitHub delivers webhooks to <code>${options.webhookPath.replace(/[<>&"]/g, "")}</code>; <code>/ping</code> answers health checks.</p>${next}`,
      );
    return true;
  };
}
