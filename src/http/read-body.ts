// Reads a request body up to a size limit without buffering more than the limit:
// an announced length over it is refused before a byte is read, and a body that
// grows past it is dropped as it arrives. Anyone who can reach the App can send a
// request, so no unauthenticated request may cost more memory than this.
import type { IncomingMessage, ServerResponse } from "node:http";

export class BodyTooLarge extends Error {
  override name = "BodyTooLarge";
  constructor(readonly limit: number) {
    super(`request body larger than ${limit} bytes`);
  }
}

/** How long the rest of a refused body is read (and dropped) before the connection is cut. */
const LINGER_MS = 5_000;

export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const announced = Number(req.headers["content-length"]);
  if (Number.isFinite(announced) && announced > limit) return Promise.reject(new BodyTooLarge(limit));
  // Listeners, not `for await`: leaving an async iterator early destroys the
  // request, and with it the socket the 413 must be written to.
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      req.off("data", onData).off("end", onEnd).off("error", onError);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      chunks = [];
      done();
      reject(new BodyTooLarge(limit));
    };
    const onEnd = () => {
      done();
      resolve(Buffer.concat(chunks).toString("utf8"));
    };
    const onError = (error: Error) => {
      done();
      reject(error);
    };
    req.on("data", onData).on("end", onEnd).on("error", onError);
  });
}

/**
 * Answers 413, then reads and drops the rest of the body for at most LINGER_MS
 * before cutting the connection. Closing a socket with unread data resets it, and
 * a sender still writing would then see a reset, not the 413 (so no
 * `connection: close`, which makes Node close as soon as the answer is out).
 * That costs bandwidth for a moment, never memory.
 */
export function refuseTooLarge(res: ServerResponse, error: BodyTooLarge): true {
  return refuseUnread(res, 413, `${error.message}\n`);
}

/** Answers without reading the body, then drops what the sender still writes (see refuseTooLarge). */
export function refuseUnread(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): true {
  const req = res.req;
  res.writeHead(status, { "content-type": "text/plain", ...headers }).end(text);
  req.resume();
  const timer = setTimeout(() => req.destroy(), LINGER_MS);
  timer.unref();
  req.once("close", () => clearTimeout(timer));
  return true;
}
