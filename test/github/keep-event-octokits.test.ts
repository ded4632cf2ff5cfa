// Probot's `context.octokit` with the App's Octokit class: one client per installation,
// kept from delivery to delivery, acting as that installation; what Probot does for
// installation events and events without an installation is unchanged.
import { Probot, type Context } from "probot";
import { createOctokitClass } from "../../src/github/create-octokit-class.js";
import { DEFAULT_PERMISSIONS, FakeGitHub } from "@modal-github-runner/simulator/fake-github";

const quiet = { level: "silent", debug: () => {}, info: () => {}, warn: () => {}, error: () => {}, child: () => quiet };
let gh: FakeGitHub;
let probot: Probot;
/** The client each delivery's handler was given, by delivery id. */
let clients: Map<string, Context["octokit"]>;

beforeEach(async () => {
  gh = await FakeGitHub.start();
  for (const [id, account] of [
    [1001, "acme"],
    [1002, "globex"],
  ] as const) {
    gh.addInstallation({ id, account, permissions: { ...DEFAULT_PERMISSIONS } });
    gh.addRepository({ installationId: id, owner: account, name: "api" });
  }
  probot = new Probot({
    appId: gh.appId,
    privateKey: gh.privateKey,
    secret: gh.webhookSecret,
    baseUrl: gh.baseUrl,
    Octokit: createOctokitClass({ retryBaseMs: 1, rateLimitBaseMs: 1, maxRateLimitWaitSeconds: 1, maxRetries: 0 }),
    log: quiet as never,
  });
  clients = new Map();
  await probot.load(
    (app) => {
      app.on(["workflow_job", "installation"], (context) => {
        clients.set(context.id, context.octokit);
      });
    },
    { cwd: process.cwd(), addHandler() {} },
  );
});

afterEach(async () => {
  await gh.close();
});

const deliver = (id: string, name: string, payload: Record<string, unknown>) =>
  probot.receive({ id, name, payload } as Parameters<Probot["receive"]>[0]);

const workflowJob = (installationId: number) => ({ action: "queued", installation: { id: installationId }, workflow_job: { id: 1 } });

/** The repositories a client sees as its installation (GitHub answers by the client's token). */
async function repositoriesSeenBy(client: Context["octokit"]) {
  const { data } = await client.request("GET /installation/repositories");
  return data.repositories.map((repository) => repository.full_name);
}

test("deliveries of one installation share one client, which acts as that installation; another installation gets its own", async () => {
  await deliver("d1", "workflow_job", workflowJob(1001));
  await deliver("d2", "workflow_job", workflowJob(1001));
  await deliver("d3", "workflow_job", workflowJob(1002));

  expect(clients.get("d2")).toBe(clients.get("d1"));
  expect(clients.get("d3")).not.toBe(clients.get("d1"));
  expect(await repositoriesSeenBy(clients.get("d1")!)).toEqual(["acme/api"]);
  expect(await repositoriesSeenBy(clients.get("d3")!)).toEqual(["globex/api"]);
});

test("installation events and events without an installation get Probot's own client, built for the delivery", async () => {
  await deliver("i1", "installation", { action: "created", installation: { id: 1001 } });
  await deliver("i2", "installation", { action: "created", installation: { id: 1001 } });
  await deliver("n1", "workflow_job", { action: "queued" });
  await deliver("n2", "workflow_job", { action: "queued" });
  await deliver("s1", "installation", { action: "suspend", installation: { id: 1002 } });

  expect(clients.get("i2")).not.toBe(clients.get("i1"));
  expect(await repositoriesSeenBy(clients.get("i1")!)).toEqual(["acme/api"]);
  expect(clients.get("n2")).not.toBe(clients.get("n1"));
  // Probot's unauthenticated client for a delivery without an installation or a revoked one.
  await expect(repositoriesSeenBy(clients.get("n1")!)).rejects.toThrow(/installation/);
  await expect(repositoriesSeenBy(clients.get("s1")!)).rejects.toThrow(/revoked/);
});
