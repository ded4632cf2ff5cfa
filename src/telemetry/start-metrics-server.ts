// /metrics on a port of its own (METRICS_PORT): Prometheus scrapes it inside the
// cluster without a token, and the public webhook port need not serve it at all.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Metrics } from "./metrics.js";

export interface MetricsServer {
  server: Server;
  port: number;
  close(): Promise<void>;
}

export function startMetricsServer(options: { metrics: Metrics; port: number; host?: string }): Promise<MetricsServer> {
  const handle = options.metrics.handler("open");
  const server = createServer((req, res) => {
    handle(req, res).then(
      (served) => {
        if (!served) res.writeHead(404, { "content-type": "text/plain" }).end("Not found\n");
      },
      () => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end();
      },
    );
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    // All interfaces by default: inside a container the scraper is never on loopback.
    server.listen(options.port, options.host ?? "::", () => {
      server.off("error", reject);
      resolve({
        server,
        port: (server.address() as AddressInfo).port,
        close: () => new Promise<void>((done, fail) => server.close((error) => (error ? fail(error) : done()))),
      });
    });
  });
}
