// The URL of an incoming request, for matching a handler's path and reading its
// query (node:http gives only the raw path; the host plays no part).
import type { IncomingMessage } from "node:http";

export function requestUrl(req: IncomingMessage): URL {
  return new URL(req.url ?? "/", "http://localhost");
}
