// Serves one Probot-shaped handler (`(req, res) => boolean`) on a loopback port, the
// way Probot's server chains them: a handler that returns false falls through to 404.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type Handler = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

export async function serveHandler(handler: Handler): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    Promise.resolve(handler(req, res)).then(
      (served) => {
        if (!served) res.writeHead(404).end("Not found");
      },
      (error: unknown) => {
        res.writeHead(500).end(String(error));
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function basic(password: string, user = "ops"): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
}
