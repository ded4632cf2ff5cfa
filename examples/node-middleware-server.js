// The App inside your own Node server (or a serverless function's handler): Probot's
// createNodeMiddleware over the App's app function. Settings come from the
// environment (APP_ID, PRIVATE_KEY, WEBHOOK_SECRET, MODAL_TOKEN_ID, ...; this file
// reads no .env). Run `npm run reconcile` on a schedule too when the process may be
// frozen between requests (serverless). See docs/probot-modes.md.
import { createServer } from "node:http";
import { createNodeMiddleware, createProbot } from "probot";
import app from "modal-github-runner";

const middleware = await createNodeMiddleware(app, { probot: createProbot() });

createServer(async (req, res) => {
  // The App's routes (the webhook guard first) answer what is theirs; the rest is yours.
  if (await middleware(req, res)) return;
  res.writeHead(404, { "content-type": "text/plain" }).end("Not found\n");
}).listen(Number(process.env.PORT || 3000), process.env.HOST || "0.0.0.0");
