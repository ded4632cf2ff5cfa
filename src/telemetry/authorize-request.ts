// Who may read the status page and /metrics: whoever shows STATUS_TOKEN, either as
// `Authorization: Bearer <token>` (scrapers, curl) or as the password of HTTP Basic
// auth with any user name (a browser prompts for it). The comparison is constant-time
// over digests, so neither the token's content nor its length leaks through timing.
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

function digest(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}

/** The credential the request presents, if any (the Bearer token or the Basic password). */
function presented(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const space = header.indexOf(" ");
  if (space < 0) return undefined;
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (scheme === "bearer") return value;
  if (scheme === "basic") {
    const decoded = Buffer.from(value, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    return colon < 0 ? undefined : decoded.slice(colon + 1);
  }
  return undefined;
}

/** True when the request carries the token. An empty or missing token authorizes nobody. */
export function authorizeRequest(req: IncomingMessage, token: string | undefined): boolean {
  if (!token) return false;
  const credential = presented(req);
  if (credential === undefined) return false;
  return timingSafeEqual(digest(credential), digest(token));
}
