// The fake Modal over real gRPC: the stock SDK, given only MODAL_SERVER_URL and a token,
// creates, lists and terminates a sandbox through it, as an App in a child process does.
import { ModalClient, AlreadyExistsError } from "modal";
import { FakeModal } from "../../src/simulator/fake-modal.js";
import { startModalGrpcServer, type ModalGrpcServer } from "../../src/simulator/modal-grpc-server.js";

let modal: FakeModal;
let server: ModalGrpcServer;
const clients: ModalClient[] = [];

beforeEach(async () => {
  modal = new FakeModal();
  server = await startModalGrpcServer(modal, { tokenId: "ak-grpc", tokenSecret: "as-grpc" });
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await server.close();
  modal.close();
});

/** The SDK reads its server URL from MODAL_SERVER_URL (or ~/.modal.toml) only. */
function sdkClient(tokenSecret = server.tokenSecret): ModalClient {
  process.env.MODAL_SERVER_URL = server.url;
  try {
    const client = new ModalClient({ tokenId: server.tokenId, tokenSecret, maxRetries: 0 });
    clients.push(client);
    return client;
  } finally {
    delete process.env.MODAL_SERVER_URL;
  }
}

test("the real SDK creates, lists and terminates a sandbox over gRPC", async () => {
  const client = sdkClient();
  const app = await client.apps.fromName("gh-runners", { createIfMissing: true });
  const image = client.images.fromRegistry("ghcr.io/actions/actions-runner:2.330.0");
  const sandbox = await client.sandboxes.create(app, image, {
    name: "modal-42-0",
    command: ["sleep", "60"],
    env: { RUNNER_JIT: "x" },
    timeoutMs: 60_000,
  });
  await sandbox.setTags({ job: "42" });

  expect(modal.byName("modal-42-0")?.sandboxId).toBe(sandbox.sandboxId);
  const listed: string[] = [];
  for await (const each of client.sandboxes.list({ appId: app.appId, tags: { job: "42" } })) listed.push(each.sandboxId);
  expect(listed).toEqual([sandbox.sandboxId]);

  // A duplicate name still maps to the SDK's AlreadyExistsError across the wire.
  await expect(client.sandboxes.create(app, image, { name: "modal-42-0", command: ["true"] })).rejects.toBeInstanceOf(AlreadyExistsError);

  await sandbox.terminate();
  expect(modal.running()).toEqual([]);
  expect(modal.calls.map((call) => call.method)).toEqual(
    expect.arrayContaining(["sandboxCreateV2", "sandboxListV2", "sandboxTerminateV2"]),
  );
});

test("MODAL_SERVER_URL alone points the SDK at it", async () => {
  const saved = { ...process.env };
  Object.assign(process.env, { MODAL_SERVER_URL: server.url, MODAL_TOKEN_ID: server.tokenId, MODAL_TOKEN_SECRET: server.tokenSecret });
  try {
    const client = new ModalClient();
    clients.push(client);
    const app = await client.apps.fromName("from-env", { createIfMissing: true });
    expect(modal.apps().map((each) => each.name)).toEqual(["from-env"]);
    expect(app.appId).toMatch(/^ap-/);
  } finally {
    for (const key of ["MODAL_SERVER_URL", "MODAL_TOKEN_ID", "MODAL_TOKEN_SECRET"]) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  }
});

test("a wrong token secret is refused", async () => {
  const client = sdkClient("as-wrong");
  await expect(client.apps.fromName("gh-runners", { createIfMissing: true })).rejects.toThrow();
  expect(server.refusedCalls).toBeGreaterThan(0);
  expect(modal.apps()).toEqual([]);
});
