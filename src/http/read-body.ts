// Reads a request body up to a size limit without buffering more than the limit:
// an announced length over it is refused before a byte is read, and a body that
// grows past it is cut off. Anyone who can reach the App can send a request, so
// no unauthenticated request may cost more memory than this.
import type { IncomingMessage } from "node:http";

export class BodyTooLarge extends Error {
  override name = "BodyTooLarge";
  constructor(readonly limit: number) {
    super(`request body larger than ${limit} bytes`);
  }
}

export async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const announced = Number(req.headers["content-length"]);
  if (Number.isFinite(announced) && announced > limit) throw new BodyTooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new BodyTooLarge(limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Answers 413 and closes the connection, so the rest of the body is never read. */
export function refuseTooLarge(res: import("node:http").ServerResponse, error: BodyTooLarge): true {
  res.writeHead(413, { "content-type": "text/plain", connection: "close" }).end(`${error.message}\n`);
  res.once("finish", () => res.req.destroy());
  return true;
}
