// A guard for endpoints that take no body (POST /reconcile): whatever is sent is
// read and dropped up to a small limit; past it the request is answered 413 before
// the endpoint (or its authorization check) runs, so a large POST costs no memory.
import type { IncomingMessage, ServerResponse } from "node:http";
import { BodyTooLarge, readBody, refuseTooLarge } from "./read-body.js";
import { requestUrl } from "../lib/request-url.js";

/** Room for an empty JSON object or a scheduler's small payload; the endpoint reads none of it. */
export const MAX_UNREAD_BODY_BYTES = 64 * 1024;

export function limitBody(path: string, limit = MAX_UNREAD_BODY_BYTES) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    if (requestUrl(req).pathname !== path) return false;
    try {
      await readBody(req, limit);
    } catch (error) {
      if (error instanceof BodyTooLarge) return refuseTooLarge(res, error);
      throw error;
    }
    return false; // within the limit: the endpoint answers
  };
}
