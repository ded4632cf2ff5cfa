// WEBHOOK_PROXY_URL (development): a smee.io channel that GitHub delivers to, and
// this forwards each delivery to the App's own webhook path, so an App on a laptop
// receives webhooks without a public URL. The forwarded request is an ordinary
// delivery: size limit and signature check apply as to any other.
import { SmeeClient } from "smee-client";
import type { Logger } from "pino";
import { describeFailure } from "../lib/errors.js";

export function forwardWebhookProxy(source: string, target: string, log: Logger): { stop(): Promise<void> } {
  const client = new SmeeClient({
    source,
    target,
    logger: {
      info: (...args: unknown[]) => log.debug({ detail: args.join(" ") }, "webhook proxy"),
      error: (...args: unknown[]) => log.warn({ detail: args.join(" ") }, "webhook proxy"),
    },
  });
  log.info({ source, target }, "forwarding webhooks from the proxy channel");
  // Connecting may take a while (or fail while offline): never hold up start-up.
  client
    .start()
    .catch((error: unknown) => log.warn({ source, reason: describeFailure(error).reason }, "cannot reach the webhook proxy channel"));
  return { stop: () => client.stop() };
}
