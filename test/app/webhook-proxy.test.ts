// WEBHOOK_PROXY_URL (development): deliveries GitHub makes to a smee.io-style channel
// reach the App's webhook path and are served like direct ones. The channel here is
// a small server-sent-events endpoint on loopback that speaks smee's format.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { sign } from "@modal-github-runner/simulator/github/webhooks";
import { eventually, settled, startOrgWorld, type World } from "../support/app-harness.js";

let world: World;
let channel: http.Server;
afterEach(async () => {
  await world.close();
  channel.closeAllConnections();
  await new Promise((resolve) => channel.close(resolve));
});

test("a delivery through the proxy channel is verified and served", async () => {
  world = await startOrgWorld();
  const job = world.github.queueJob({ owner: "octo-org", repo: "app", labels: ["modal"] });
  const payload = world.github.workflowJobPayload("queued", job);
  const body = JSON.stringify(payload);
  // smee's event: the delivery's headers as fields, its JSON body under "body".
  const event = {
    "x-github-event": "workflow_job",
    "x-github-delivery": "proxy-delivery-1",
    "x-hub-signature-256": sign(world.github.webhookSecret, body),
    body: payload,
  };
  channel = http.createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.write(`event: ready\ndata: {}\n\n`);
    res.write(`data: ${JSON.stringify(event)}\n\n`);
  });
  await new Promise<void>((resolve) => channel.listen(0, "127.0.0.1", resolve));
  world.github.webhookUrl = "http://127.0.0.1:9/unused"; // GitHub delivers only to the channel here

  await world.startApp({ WEBHOOK_PROXY_URL: `http://127.0.0.1:${(channel.address() as AddressInfo).port}/channel` });
  await eventually(() => world.modal.running().length === 1, "the proxied job is served");
  await settled(world);
  expect(world.modal.running()[0]!.name).toBe(`modal-${job.id}-0`);
});
