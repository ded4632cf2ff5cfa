// The webhook guard's budget for unverified bodies: while the bytes of unverified
// bodies in flight are at the cap, another delivery is answered 503 with retry-after
// before a byte of it is read; once they are released, deliveries are read again.
import http from "node:http";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { webhookEndpoint } from "../../src/http/webhook-endpoint.js";

const KiB = 1024;
let server: http.Server;
let url: string;
const received: string[] = [];

beforeEach(async () => {
  const guard = webhookEndpoint({
    path: "/hooks",
    secret: "a-webhook-secret-of-some-length",
    receive: async (delivery) => void received.push(delivery.id),
    log: pino({ level: "silent" }),
    limits: { workflow_job: 100 * KiB },
    maxUnverifiedBytes: 250 * KiB,
  });
  server = http.createServer((req, res) => {
    void guard(req, res).then((handled) => handled || res.writeHead(404).end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** Starts a chunked delivery and keeps it open (unverified, in flight) until `end()`. */
function openDelivery(id: string) {
  const req = http.request(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": "workflow_job",
      "x-github-delivery": id,
      "x-hub-signature-256": "sha256=" + "0".repeat(64),
    },
  });
  const answer = new Promise<{ status?: number; retryAfter?: string }>((resolve) => {
    req.on("response", (res) => {
      res.resume();
      resolve({ status: res.statusCode, retryAfter: res.headers["retry-after"] });
    });
    req.on("error", () => resolve({}));
  });
  req.write("{");
  return { answer, end: () => req.end("}") };
}

test("past the cap on unverified bytes in flight, a delivery is answered 503 with retry-after, unread", async () => {
  // Chunked bodies reserve their event's whole cap (100 KiB): two fit in 250 KiB, a third does not.
  const first = openDelivery("one");
  const second = openDelivery("two");
  await new Promise((resolve) => setTimeout(resolve, 100));
  const third = await openDelivery("three").answer;
  expect(third.status).toBe(503);
  expect(Number(third.retryAfter)).toBeGreaterThan(0);

  first.end();
  second.end();
  expect((await first.answer).status).toBe(400); // unsigned: refused, and its room released
  expect((await second.answer).status).toBe(400);
  const fourth = openDelivery("four");
  fourth.end();
  expect((await fourth.answer).status).toBe(400); // read again (and refused for its signature)
  expect(received).toEqual([]);
});
