// The fake Modal: its control plane under the real SDK, in process and over real gRPC,
// and the simulated runners that play what runs in its sandboxes. One file (one load of
// the modal SDK) for these cases.
import { AlreadyExistsError, ModalClient, NotFoundError, type App, type Image } from "modal";
import { ClientError, Status } from "nice-grpc";
import { FakeModal, isV1SandboxIdShape, type SandboxProcess } from "@modal-github-runner/simulator/fake-modal";
import { FastForwardClock } from "../support/fast-forward-clock.js";
import { startModalGrpcServer, type ModalGrpcServer } from "@modal-github-runner/simulator/modal-grpc-server";
import { attachSimulatedRunners, type RunnerSide, type SimulatedRunners } from "@modal-github-runner/simulator/simulated-runner";
import { ManualClock } from "../support/manual-clock.js";

describe("the fake control plane", () => {
  const IMAGE_TAG = "ghcr.io/actions/actions-runner:2.330.0";

  let modal: FakeModal;
  let client: ModalClient;

  beforeEach(() => {
    modal = new FakeModal();
    client = modal.client();
  });

  afterEach(() => {
    modal.close();
    client.close();
  });

  function withSandboxV2Off<T>(fn: () => T): T {
    const saved = process.env.MODAL_SANDBOX_V2;
    process.env.MODAL_SANDBOX_V2 = "0";
    try {
      return fn();
    } finally {
      if (saved === undefined) delete process.env.MODAL_SANDBOX_V2;
      else process.env.MODAL_SANDBOX_V2 = saved;
    }
  }

  async function appAndImage(c: ModalClient = client, tag = IMAGE_TAG) {
    const app = await c.apps.fromName("gh-runners", { createIfMissing: true });
    const image = c.images.fromRegistry(tag).dockerfileCommands(["RUN echo hi"]);
    return { app, image };
  }

  async function listIds(c: ModalClient, params: { appId?: string; tags?: Record<string, string> }): Promise<string[]> {
    const ids: string[] = [];
    for await (const sb of c.sandboxes.list(params)) ids.push(sb.sandboxId);
    return ids;
  }

  async function expectGrpc(promise: Promise<unknown>, code: Status): Promise<void> {
    const err = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ClientError);
    expect((err as ClientError).code).toBe(code);
  }

  describe("apps and environments", () => {
    test("fromName creates once when asked, and NOT_FOUND otherwise", async () => {
      await expect(client.apps.fromName("nope")).rejects.toBeInstanceOf(NotFoundError);
      const a = await client.apps.fromName("gh-runners", { createIfMissing: true });
      const b = await client.apps.fromName("gh-runners");
      expect(a.appId).toMatch(/^ap-[0-9A-Za-z]{22}$/);
      expect(b.appId).toBe(a.appId);
      expect(modal.apps()).toEqual([{ appId: a.appId, name: "gh-runners", environmentName: "main" }]);
    });

    test("a named environment keeps its own apps and sandbox names", async () => {
      const dev = modal.client({ environment: "dev" });
      const app = await dev.apps.fromName("gh-runners", { createIfMissing: true });
      const sb = await dev.sandboxes.create(app, dev.images.fromRegistry(IMAGE_TAG), { name: "in-dev" });
      expect(modal.apps()).toEqual([{ appId: app.appId, name: "gh-runners", environmentName: "dev" }]);
      expect((await dev.sandboxes.fromName("gh-runners", "in-dev")).sandboxId).toBe(sb.sandboxId);
      await expect(client.sandboxes.fromName("gh-runners", "in-dev")).rejects.toBeInstanceOf(NotFoundError);
      expect(modal.calls.find((c) => c.method === "environmentGetOrCreate")?.request).toEqual({ deploymentName: "dev" });
    });
  });

  describe("images", () => {
    test("a definition is built once and reused by id", async () => {
      const { app, image } = await appAndImage();
      await image.build(app);
      expect(image.imageId).toMatch(/^im-/);
      const again = client.images.fromRegistry(IMAGE_TAG).dockerfileCommands(["RUN echo hi"]);
      await again.build(app);
      expect(again.imageId).toBe(image.imageId);
      // fromRegistry(tag).dockerfileCommands([...]) is two layers to the SDK: "FROM tag", then "FROM base" + commands.
      expect(modal.imageBuilds()).toBe(2);
      expect(modal.calls.filter((c) => c.method === "imageGetOrCreate")).toHaveLength(4);
      expect(modal.methods()).toContain("environmentGetOrCreate");

      // An implicit build inside sandboxes.create hits the cache too.
      const sb = await client.sandboxes.create(app, client.images.fromRegistry(IMAGE_TAG).dockerfileCommands(["RUN echo hi"]));
      expect(modal.sandbox(sb.sandboxId)?.imageId).toBe(image.imageId);
      expect(modal.sandbox(sb.sandboxId)?.imageTag).toBe(IMAGE_TAG);
      expect(modal.imageBuilds()).toBe(2);

      await client.images.fromRegistry(IMAGE_TAG).dockerfileCommands(["RUN echo other"]).build(app);
      expect(modal.imageBuilds()).toBe(3);
      expect(modal.images().map((i) => [i.tag, i.dockerfileCommands])).toEqual([
        [IMAGE_TAG, [`FROM ${IMAGE_TAG}`]],
        [IMAGE_TAG, ["FROM base", "RUN echo hi"]],
        [IMAGE_TAG, ["FROM base", "RUN echo other"]],
      ]);
    });

    test("a slow build is joined by concurrent callers through imageJoinStreaming", async () => {
      modal.imageBuildMs = 50;
      const { app } = await appAndImage();
      const images = [0, 1, 2].map(() => client.images.fromRegistry(IMAGE_TAG).dockerfileCommands(["RUN slow"]));
      await Promise.all(images.map((i) => i.build(app)));
      expect(new Set(images.map((i) => i.imageId)).size).toBe(1);
      expect(modal.imageBuilds()).toBe(2); // two layers, each built once
      expect(modal.methods().filter((m) => m === "imageJoinStreaming").length).toBeGreaterThanOrEqual(3);
    });

    test("a failing build surfaces its message, and is retried after the fault clears", async () => {
      modal.failImageBuild(IMAGE_TAG, "pull access denied");
      const { app, image } = await appAndImage();
      await expect(image.build(app)).rejects.toThrow(/pull access denied/);
      await expect(client.sandboxes.create(app, client.images.fromRegistry(IMAGE_TAG))).rejects.toThrow(/pull access denied/);
      modal.clearImageBuildFailure(IMAGE_TAG);
      await image.build(app);
      expect(image.imageId).toMatch(/^im-/);
      // Failed builds are not cached: base layer failed twice, then base + top layer built.
      expect(modal.imageBuilds()).toBe(4);
    });
  });

  describe("sandbox create", () => {
    test("V2 (default): parameters reach the definition, converted", async () => {
      modal.addSecret("runner-proxy", { HTTPS_PROXY: "http://proxy:3128", SHARED: "from-secret" });
      const { app, image } = await appAndImage();
      const secret = await client.secrets.fromName("runner-proxy");
      const sb = await client.sandboxes.create(app, image, {
        name: "gh-123-job-456",
        tags: { repo: "octo/hello", job: "456" },
        env: { ACTIONS_RUNNER_INPUT_JITCONFIG: "abc==", SHARED: "from-env" },
        secrets: [secret],
        cpu: 2.5,
        memoryMiB: 4096,
        timeoutMs: 3_600_000,
        command: ["/home/runner/run.sh"],
        regions: ["us-east", "us-west"],
        outboundCidrAllowlist: ["140.82.112.0/20"],
        outboundDomainAllowlist: ["github.com", "*.actions.githubusercontent.com"],
      });
      expect(isV1SandboxIdShape(sb.sandboxId)).toBe(false);
      expect(modal.methods()).toEqual(
        expect.arrayContaining(["appGetOrCreate", "secretGetOrCreate", "imageGetOrCreate", "sandboxCreateV2"]),
      );
      expect(modal.methods()).not.toContain("sandboxCreate");
      const fake = modal.byName("gh-123-job-456")!;
      expect(fake).toMatchObject({
        sandboxId: sb.sandboxId,
        version: "v2",
        appId: app.appId,
        appName: "gh-runners",
        tags: { repo: "octo/hello", job: "456" },
        env: { HTTPS_PROXY: "http://proxy:3128", SHARED: "from-env", ACTIONS_RUNNER_INPUT_JITCONFIG: "abc==" },
        secretNames: ["runner-proxy"],
        cpu: 2.5,
        memoryMiB: 4096,
        gpu: undefined,
        timeoutSecs: 3600,
        regions: ["us-east", "us-west"],
        egress: "allowlist",
        blockNetwork: false,
        cidrAllowlist: ["140.82.112.0/20"],
        domainAllowlist: ["github.com", "*.actions.githubusercontent.com"],
        command: ["/home/runner/run.sh"],
        state: "running",
      });
      expect(fake.definition).toMatchObject({
        name: "gh-123-job-456",
        timeoutSecs: 3600,
        resources: { milliCpu: 2500, memoryMb: 4096 },
        networkAccess: { networkAccessType: 3 },
        schedulerPlacement: { regions: ["us-east", "us-west"] },
        entrypointArgs: ["/home/runner/run.sh"],
      });
      // V2 passes env as a secret source, not as an ephemeral secret.
      expect(fake.request).toMatchObject({
        secretSources: [
          { secretId: secret.secretId },
          { env: { contents: { ACTIONS_RUNNER_INPUT_JITCONFIG: "abc==", SHARED: "from-env" } } },
        ],
      });
      expect(modal.calls.filter((c) => c.method === "secretGetOrCreate")).toHaveLength(1);
    });

    test("V2 defaults: open network, 300 s lifetime, no resources", async () => {
      const { app, image } = await appAndImage();
      const sb = await client.sandboxes.create(app, image);
      expect(modal.sandbox(sb.sandboxId)).toMatchObject({
        name: undefined,
        cpu: undefined,
        memoryMiB: undefined,
        timeoutSecs: 300,
        egress: "open",
        blockNetwork: false,
        regions: [],
        env: {},
        secretNames: [],
        command: [],
      });
      const blocked = await client.sandboxes.create(app, image, { blockNetwork: true });
      expect(modal.sandbox(blocked.sandboxId)).toMatchObject({
        egress: "blocked",
        blockNetwork: true,
        cidrAllowlist: [],
        domainAllowlist: [],
      });
    });

    test("a gpu takes the V1 path: ephemeral env secret, SandboxCreate, task id polling", async () => {
      const { app, image } = await appAndImage();
      const sb = await client.sandboxes.create(app, image, { gpu: "a100:2", env: { JIT: "x" }, name: "gpu-one", cpu: 4, memoryMiB: 16384 });
      expect(isV1SandboxIdShape(sb.sandboxId)).toBe(true);
      const methods = modal.methods();
      expect(methods).toEqual(expect.arrayContaining(["secretGetOrCreate", "sandboxCreate", "sandboxGetTaskId"]));
      expect(methods).not.toContain("sandboxCreateV2");
      const ephemeral = modal.calls.find((c) => c.method === "secretGetOrCreate")!.request;
      expect(ephemeral).toMatchObject({ objectCreationType: 5, envDict: { JIT: "x" } });
      expect(modal.sandbox(sb.sandboxId)).toMatchObject({
        version: "v1",
        gpu: "A100:2",
        env: { JIT: "x" },
        secretNames: [],
        cpu: 4,
        memoryMiB: 16384,
      });
      expect(modal.sandbox(sb.sandboxId)?.definition).toMatchObject({ resources: { gpuConfig: { gpuType: "A100", count: 2 } } });

      // V1 handles use V1 RPCs; fromName finds it through the V1 fallback.
      await sb.setTags({ a: "1" });
      expect(await sb.getTags()).toEqual({ a: "1" });
      const found = await client.sandboxes.fromName("gh-runners", "gpu-one");
      expect(found.sandboxId).toBe(sb.sandboxId);
      expect(modal.methods()).toEqual(
        expect.arrayContaining(["sandboxTagsSet", "sandboxTagsGet", "sandboxGetFromNameV2", "sandboxGetFromName"]),
      );
      await sb.terminate();
      expect(await sb.wait()).toBe(137);
      expect(modal.methods()).toEqual(expect.arrayContaining(["sandboxTerminate", "sandboxWait"]));
    });

    test("MODAL_SANDBOX_V2=0 takes the V1 path for everything", async () => {
      const v1 = withSandboxV2Off(() => modal.client());
      const { app, image } = await appAndImage(v1);
      const sb = await v1.sandboxes.create(app, image, { name: "v1-one", tags: { k: "v" } });
      expect(isV1SandboxIdShape(sb.sandboxId)).toBe(true);
      expect(await listIds(v1, { appId: app.appId, tags: { k: "v" } })).toEqual([sb.sandboxId]);
      expect((await v1.sandboxes.fromName("gh-runners", "v1-one")).sandboxId).toBe(sb.sandboxId);
      expect(modal.methods()).toEqual(expect.arrayContaining(["sandboxCreate", "sandboxList", "sandboxGetFromName"]));
      expect(modal.methods()).not.toEqual(expect.arrayContaining(["sandboxListV2"]));
      expect(modal.methods()).not.toContain("sandboxGetFromNameV2");
      v1.close();
    });

    test("a missing named secret is NotFoundError; required keys are checked", async () => {
      await expect(client.secrets.fromName("missing")).rejects.toBeInstanceOf(NotFoundError);
      modal.addSecret("s", { A: "1" });
      await expect(client.secrets.fromName("s", { requiredKeys: ["A", "B"] })).rejects.toBeInstanceOf(NotFoundError);
      await expect(client.secrets.fromName("s", { requiredKeys: ["A"] })).resolves.toBeDefined();
    });
  });

  describe("names", () => {
    const cases: Array<[string, string | undefined]> = [
      ["V2", undefined],
      ["V1", "T4"],
    ];
    test.each(cases)("%s: a duplicate running name is AlreadyExistsError; terminate frees it", async (_label, gpuType) => {
      const gpu = () => gpuType;
      const { app, image } = await appAndImage();
      const first = await client.sandboxes.create(app, image, { name: "dup", gpu: gpu() });
      await expect(client.sandboxes.create(app, image, { name: "dup", gpu: gpu() })).rejects.toBeInstanceOf(AlreadyExistsError);
      // Other apps have their own namespace.
      const other = await client.apps.fromName("other", { createIfMissing: true });
      await client.sandboxes.create(other, image, { name: "dup", gpu: gpu() });

      expect((await client.sandboxes.fromName("gh-runners", "dup")).sandboxId).toBe(first.sandboxId);
      await first.terminate();
      await expect(client.sandboxes.fromName("gh-runners", "dup")).rejects.toBeInstanceOf(NotFoundError);
      const second = await client.sandboxes.create(app, image, { name: "dup", gpu: gpu() });
      expect(second.sandboxId).not.toBe(first.sandboxId);
      expect(modal.byName("dup")?.appId).toBeDefined();
      expect(modal.sandbox(first.sandboxId)).toMatchObject({ state: "finished", endedBy: "terminate", exitCode: 137 });
    });

    test("an exited entrypoint frees the name too", async () => {
      const { app, image } = await appAndImage();
      const sb = await client.sandboxes.create(app, image, { name: "n" });
      modal.exitSandbox(sb.sandboxId, 3);
      expect(await sb.wait()).toBe(3);
      await client.sandboxes.create(app, image, { name: "n" });
      expect(modal.sandbox(sb.sandboxId)).toMatchObject({ state: "finished", endedBy: "exit", exitCode: 3 });
    });
  });

  describe("list and tags", () => {
    test("list pages until an empty page and filters by all given tags", async () => {
      modal.listPageSize = 2;
      const { app, image } = await appAndImage();
      const created: string[] = [];
      for (let i = 0; i < 5; i++) {
        const sb = await client.sandboxes.create(app, image, { tags: { pool: "gh", parity: i % 2 === 0 ? "even" : "odd" } });
        created.push(sb.sandboxId);
      }
      const other = await client.apps.fromName("other", { createIfMissing: true });
      await client.sandboxes.create(other, image, { tags: { pool: "gh" } });

      expect((await listIds(client, { appId: app.appId })).sort()).toEqual([...created].sort());
      expect(await listIds(client, { appId: app.appId, tags: { pool: "gh", parity: "even" } })).toEqual(
        [created[4], created[2], created[0]], // newest first
      );
      expect(await listIds(client, { appId: app.appId, tags: { pool: "gh", parity: "none" } })).toEqual([]);
      const pages = modal.calls.filter((c) => c.method === "sandboxListV2");
      expect(pages.length).toBeGreaterThanOrEqual(3 + 2 + 1);

      // Finished sandboxes are not listed.
      modal.exitSandbox(created[4]!, 0);
      expect(await listIds(client, { appId: app.appId, tags: { parity: "even" } })).toEqual([created[2], created[0]]);
    });

    test("SandboxInfo carries tags and name", async () => {
      const { app, image } = await appAndImage();
      await client.sandboxes.create(app, image, { name: "x", tags: { a: "b" } });
      const resp = await modal.cpClient.sandboxListV2({ appId: app.appId, tags: [], includeFinished: false });
      expect(resp.sandboxes).toHaveLength(1);
      expect(resp.sandboxes[0]).toMatchObject({ name: "x", tags: [{ tagName: "a", tagValue: "b" }], appId: app.appId });
    });

    test("setTags replaces every tag; getTags reads them back", async () => {
      const { app, image } = await appAndImage();
      const sb = await client.sandboxes.create(app, image, { tags: { a: "1", b: "2" } });
      expect(await sb.getTags()).toEqual({ a: "1", b: "2" });
      await sb.setTags({ c: "3" });
      expect(await sb.getTags()).toEqual({ c: "3" });
      expect(modal.sandbox(sb.sandboxId)?.tags).toEqual({ c: "3" });
      const again = await client.sandboxes.fromId(sb.sandboxId);
      expect(await again.getTags()).toEqual({ c: "3" });
      expect(modal.methods()).toEqual(expect.arrayContaining(["sandboxTagsSetV2", "sandboxTagsGetV2"]));
    });
  });

  describe("lifetime and entrypoint", () => {
    test("a sandbox ends by itself after its timeout", async () => {
      // Modal's time on a clock the test advances: the timeout passes without being waited for.
      const clock = new FastForwardClock();
      const timed = new FakeModal({ now: clock.now, lifetimeTimers: clock });
      const timedClient = timed.client();
      const { app, image } = await appAndImage(timedClient);
      const sb = await timedClient.sandboxes.create(app, image, { timeoutMs: 60_000, name: "short" });
      expect(timed.byName("short")).toBeDefined();
      const exited = sb.wait();
      await clock.advance(59_000);
      expect(timed.sandbox(sb.sandboxId)).toMatchObject({ state: "running" });
      await clock.advance(1_000);
      expect(await exited).toBe(124);
      expect(timed.sandbox(sb.sandboxId)).toMatchObject({ state: "finished", endedBy: "timeout", exitCode: 124 });
      expect(timed.byName("short")).toBeUndefined();
      timed.close();
      timedClient.close();
    });

    test("onSandboxStart receives a process handle", async () => {
      const started: SandboxProcess[] = [];
      modal.onSandboxStart = (p) => started.push(p);
      const { app, image } = await appAndImage();
      const sb = await client.sandboxes.create(app, image, { env: { K: "v" } });
      expect(started).toHaveLength(1);
      const p = started[0]!;
      expect(p.sandbox.sandboxId).toBe(sb.sandboxId);
      expect(p.sandbox.env).toEqual({ K: "v" });
      expect(p.isRunning()).toBe(true);
      expect(await sb.poll()).toBeNull();
      p.exit(0);
      await p.ended;
      expect(p.isRunning()).toBe(false);
      expect(await sb.wait()).toBe(0);
    });
  });

  describe("faults and latency", () => {
    test("failNext throws the given code the given number of times", async () => {
      const { app, image } = await appAndImage();
      await image.build(app);
      modal.failNext("sandboxCreateV2", Status.UNAVAILABLE, 2);
      await expectGrpc(client.sandboxes.create(app, image), Status.UNAVAILABLE);
      await expectGrpc(client.sandboxes.create(app, image), Status.UNAVAILABLE);
      expect(modal.running()).toHaveLength(0);
      await client.sandboxes.create(app, image);
      expect(modal.running()).toHaveLength(1);
      modal.failNext("sandboxListV2", Status.DEADLINE_EXCEEDED, 1, "slow");
      await expectGrpc(listIds(client, { appId: app.appId }), Status.DEADLINE_EXCEEDED);
      expect(() => modal.failNext("sandboxCreateV3", Status.INTERNAL)).toThrow(/unknown RPC/);
    });

    test("failNextAfterEffect applies the request and loses the answer", async () => {
      const { app, image } = await appAndImage();
      await image.build(app);
      modal.failNextAfterEffect("sandboxCreateV2", Status.DEADLINE_EXCEEDED);
      await expectGrpc(client.sandboxes.create(app, image, { name: "lost" }), Status.DEADLINE_EXCEEDED);
      expect(modal.byName("lost")).toBeDefined();
      await expect(client.sandboxes.create(app, image, { name: "lost" })).rejects.toBeInstanceOf(AlreadyExistsError);
    });

    test("an outage makes every RPC UNAVAILABLE until it ends", async () => {
      modal.setOutage(true);
      await expectGrpc(client.apps.fromName("gh-runners", { createIfMissing: true }), Status.UNAVAILABLE);
      modal.setOutage(false);
      const app: App = await client.apps.fromName("gh-runners", { createIfMissing: true });
      expect(app.appId).toMatch(/^ap-/);
    });

    test("latency is added per RPC and per method; every call is recorded", async () => {
      modal.latencyMs = 10;
      modal.methodLatencyMs = { appGetOrCreate: 40 };
      const started = Date.now();
      await client.apps.fromName("gh-runners", { createIfMissing: true });
      expect(Date.now() - started).toBeGreaterThanOrEqual(45);
      expect(modal.calls).toEqual([
        { method: "appGetOrCreate", at: expect.any(Number), request: expect.objectContaining({ appName: "gh-runners" }) },
      ]);
    });

    test("unknown RPCs are recorded and UNIMPLEMENTED", async () => {
      await expectGrpc(modal.cpClient.volumeGetOrCreate({}), Status.UNIMPLEMENTED);
      expect(modal.unimplemented).toEqual(["volumeGetOrCreate"]);
      expect(modal.cpClient.then).toBeUndefined();
    });
  });

  test("Modal's time is the `now` it is given: sandboxes are created and end, and calls arrive, on it", async () => {
    let now = Date.parse("2030-01-01T00:00:00Z");
    const skipped = new FakeModal({ now: () => now });
    const c = skipped.client();
    try {
      const { app, image } = await appAndImage(c);
      const sandbox = await c.sandboxes.create(app, image);
      expect(skipped.sandbox(sandbox.sandboxId)).toMatchObject({ createdAt: now, finishedAt: undefined });
      now += 60_000;
      await sandbox.terminate();
      expect(skipped.sandbox(sandbox.sandboxId)?.finishedAt).toBe(now);
      expect(skipped.calls.at(-1)?.at).toBe(now);
    } finally {
      skipped.close();
      c.close();
    }
  });
});

// The fake Modal over real gRPC: the stock SDK, given only MODAL_SERVER_URL and a token,
// creates, lists and terminates a sandbox through it, as an App in a child process does.
describe("over real gRPC", () => {
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
});

describe("simulated runners", () => {
  /** A tiny stand-in for FakeGitHub's runner-facing side. */
  class StubGitHub implements RunnerSide {
    readonly log: string[] = [];
    readonly configs = new Map<string, { id: number; name: string }>();
    readonly jobList: Array<{ id: number; status: string; conclusion?: string; runnerId?: number }> = [];

    register(config: string, id: number): void {
      this.configs.set(config, { id, name: `runner-${id}` });
    }
    queue(id: number): void {
      this.jobList.push({ id, status: "queued" });
    }
    connectRunner(encodedJitConfig: string) {
      const r = this.configs.get(encodedJitConfig);
      this.log.push(`connect ${r?.id ?? "unknown"}`);
      return r;
    }
    acquireJob(runnerId: number) {
      const job = this.jobList.find((j) => j.status === "queued");
      if (!job) return undefined;
      job.status = "in_progress";
      job.runnerId = runnerId;
      this.log.push(`acquire ${runnerId} ${job.id}`);
      return { id: job.id, status: job.status };
    }
    completeJob(jobId: number, conclusion?: "success" | "failure" | "cancelled") {
      const job = this.jobList.find((j) => j.id === jobId)!;
      job.status = "completed";
      job.conclusion = conclusion;
      this.log.push(`complete ${jobId} ${conclusion}`);
    }
    releaseRunner(runnerId: number) {
      this.log.push(`release ${runnerId}`);
    }
    disconnectRunner(runnerId: number) {
      this.log.push(`disconnect ${runnerId}`);
    }
    jobs() {
      return this.jobList.map((j) => ({ id: j.id, status: j.status }));
    }
  }

  let modal: FakeModal;
  let client: ModalClient;
  let github: StubGitHub;
  let runners: SimulatedRunners;
  let app: App;
  let image: Image;

  beforeEach(async () => {
    modal = new FakeModal();
    client = modal.client();
    github = new StubGitHub();
    runners = attachSimulatedRunners(modal, github, { bootDelayMs: 10, pollMs: 5, jobDurationMs: 60 });
    app = await client.apps.fromName("runners", { createIfMissing: true });
    image = await client.images.fromRegistry("runner:latest").build(app);
  });

  afterEach(() => {
    runners.stop();
    modal.close();
  });

  const eventsOf = (sandboxId: string) => runners.events.filter((e) => e.sandboxId === sandboxId).map((e) => e.event);

  test("a runner connects, runs one job, deregisters and exits 0", async () => {
    github.register("cfg-1", 1);
    github.queue(100);
    const sb = await client.sandboxes.create(app, image, { env: { ACTIONS_RUNNER_INPUT_JITCONFIG: "cfg-1" } });
    expect(await sb.wait()).toBe(0);
    expect(github.log).toEqual(["connect 1", "acquire 1 100", "complete 100 success", "release 1"]);
    expect(eventsOf(sb.sandboxId)).toEqual(["boot", "connected", "job-acquired", "job-completed", "released", "exited"]);
    expect(modal.sandbox(sb.sandboxId)).toMatchObject({ state: "finished", endedBy: "exit", exitCode: 0 });
  });

  test("a missing or unknown JIT config exits 1", async () => {
    const none = await client.sandboxes.create(app, image);
    const bad = await client.sandboxes.create(app, image, { env: { ACTIONS_RUNNER_INPUT_JITCONFIG: "nope" } });
    expect(await none.wait()).toBe(1);
    expect(await bad.wait()).toBe(1);
    expect(eventsOf(none.sandboxId)).toEqual(["boot", "no-jit-config", "exited"]);
    expect(eventsOf(bad.sandboxId)).toEqual(["boot", "config-rejected", "exited"]);
  });

  test("terminated while idle: the runner disconnects", async () => {
    github.register("cfg-2", 2);
    const sb = await client.sandboxes.create(app, image, { env: { ACTIONS_RUNNER_INPUT_JITCONFIG: "cfg-2" } });
    await until(() => github.log.includes("connect 2"));
    await sb.terminate();
    await until(() => github.log.includes("disconnect 2"));
    expect(eventsOf(sb.sandboxId)).toEqual(["boot", "connected", "terminated-idle"]);
  });

  test("terminated mid-job: the runner disconnects without completing", async () => {
    github.register("cfg-3", 3);
    github.queue(300);
    const sb = await client.sandboxes.create(app, image, { env: { ACTIONS_RUNNER_INPUT_JITCONFIG: "cfg-3" } });
    await until(() => github.log.includes("acquire 3 300"));
    await sb.terminate();
    await until(() => github.log.includes("disconnect 3"));
    expect(github.jobs()).toEqual([{ id: 300, status: "in_progress" }]);
    expect(eventsOf(sb.sandboxId)).toContain("terminated-mid-job");
  });

  test("a job cancelled meanwhile stops early: no completeJob, release, exit 0", async () => {
    github.register("cfg-4", 4);
    github.queue(400);
    const sb = await client.sandboxes.create(app, image, { env: { ACTIONS_RUNNER_INPUT_JITCONFIG: "cfg-4" } });
    await until(() => github.log.includes("acquire 4 400"));
    github.jobList[0]!.status = "completed";
    expect(await sb.wait()).toBe(0);
    expect(github.log).toEqual(["connect 4", "acquire 4 400", "release 4"]);
    expect(eventsOf(sb.sandboxId)).toEqual(["boot", "connected", "job-acquired", "job-cancelled", "released", "exited"]);
  });

  test("on an injected clock, boot and job last the clock's time: a long job ends when the clock is advanced past it, not before", async () => {
    runners.stop();
    const clock = new ManualClock();
    runners = attachSimulatedRunners(modal, github, { clock, bootDelayMs: 10_000, pollMs: 60_000, jobDurationMs: 3_600_000 });
    github.register("cfg-6", 6);
    github.queue(600);
    const sb = await client.sandboxes.create(app, image, { env: { ACTIONS_RUNNER_INPUT_JITCONFIG: "cfg-6" } });
    await clock.advance(9_999);
    expect(github.log).toEqual([]);
    await clock.advance(1);
    expect(github.log).toEqual(["connect 6", "acquire 6 600"]);
    await clock.advance(3_599_999);
    expect(github.jobs()).toEqual([{ id: 600, status: "in_progress" }]);
    expect(modal.sandbox(sb.sandboxId)?.state).toBe("running");
    await clock.advance(1);
    expect(await sb.wait()).toBe(0);
    expect(github.log).toEqual(["connect 6", "acquire 6 600", "complete 600 success", "release 6"]);
    expect(runners.events.filter((e) => e.sandboxId === sb.sandboxId).map((e) => e.at - runners.events[0]!.at)).toEqual([
      0, 10_000, 10_000, 3_610_000, 3_610_000, 3_610_000,
    ]);
  });

  test("a sandbox gone before boot does nothing; stop() halts every loop", async () => {
    const sb = await client.sandboxes.create(app, image, { env: { ACTIONS_RUNNER_INPUT_JITCONFIG: "cfg-x" } });
    await sb.terminate();
    await until(() => eventsOf(sb.sandboxId).includes("gone-before-boot"));
    github.register("cfg-5", 5);
    const idle = await client.sandboxes.create(app, image, { env: { ACTIONS_RUNNER_INPUT_JITCONFIG: "cfg-5" } });
    await until(() => github.log.includes("connect 5"));
    runners.stop();
    expect(modal.onSandboxStart).toBeUndefined();
    const before = runners.events.length;
    github.queue(500);
    await new Promise((r) => setTimeout(r, 30));
    expect(runners.events.length).toBe(before);
    expect(github.jobs()).toEqual([{ id: 500, status: "queued" }]);
    expect(modal.sandbox(idle.sandboxId)?.state).toBe("running");
  });

  async function until(cond: () => boolean, timeoutMs = 2000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error("condition not met in time");
      await new Promise((r) => setTimeout(r, 5));
    }
  }
});
