// The three ways to run the App (docs/probot-modes.md), each started as a child
// process the way a user starts it, against the simulators over the wire: the fake
// GitHub's HTTP server and the fake Modal served over gRPC (the stock SDK, pointed at
// it by MODAL_SERVER_URL). Each serves a queued job end to end; the modes that put the
// App's guard in front of Probot also answer an oversized body 413 before reading it
// and keep a refused payload out of the logs. `probot run` cannot (Probot's own
// middleware reads the body first); that is documented, not tested here.
//
// `npm start` is npm itself, as an operator's process manager runs it: SIGTERM goes to
// npm, which forwards it to the script's process. A shell that ran the App as its child
// would die and leave the App running, holding the port; the start script execs node, so
// the App gets the signal, drains and exits 0, and the port is free.
import { spawn, type ChildProcess } from "node:child_process";
import http from "node:http";
import { copyFileSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { FakeGitHub } from "@modal-github-runner/simulator/fake-github";
import { FakeModal } from "@modal-github-runner/simulator/fake-modal";
import { startModalGrpcServer, type ModalGrpcServer } from "@modal-github-runner/simulator/modal-grpc-server";
import { appEnv, eventually } from "../support/app-env.js";
import { freePort } from "../support/free-port.js";

const TIMEOUT_MS = 60_000;

/** Each mode's command; it runs in a directory of its own, so no .env is read from the repository. */
const MODES = {
  // npm needs the package: its package.json, with dist/ and node_modules/ linked. --ignore-scripts
  // skips prestart's build (dist/ is built by pretest); start itself runs.
  "npm start": ["npm", "start", "--ignore-scripts"],
  "npx probot run ./dist/index.js": [
    process.execPath,
    path.resolve("node_modules/probot/bin/probot.js"),
    "run",
    path.resolve("dist/index.js"),
  ],
  "createNodeMiddleware in a bare node:http server": [process.execPath, path.resolve("examples/node-middleware-server.js")],
} as const;
type Mode = keyof typeof MODES;
const GUARDED: Mode[] = ["npm start", "createNodeMiddleware in a bare node:http server"];

const MARKER = "REFUSED-PAYLOAD-MARKER";

interface Child {
  process: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** One mode's world: its own simulators (GitHub sends webhooks to one URL) and the App's process. */
interface ModeWorld {
  github: FakeGitHub;
  modal: FakeModal;
  grpc: ModalGrpcServer;
  child?: Child;
  /** The child's working directory, removed with the world (npm's links are removed, not followed). */
  cwd?: string;
  webhookUrl: string;
}

// One world and one child per mode, shared by that mode's cases (a child costs about a
// second of CPU to start): the job is served first, the guard's cases send only refused
// requests, and the drain, which stops the child, comes last. The three modes start side
// by side, before the first case: most of a start-up is waiting.
const worlds = new Map<Mode, ModeWorld>();

async function startWorld(mode: Mode): Promise<ModeWorld> {
  const github = await FakeGitHub.start();
  const modal = new FakeModal();
  const grpc = await startModalGrpcServer(modal);
  const installation = github.addInstallation({ account: "octo-org", accountType: "Organization" });
  github.addRepository({ installationId: installation.id, owner: "octo-org", name: "app" });
  const world: ModeWorld = { github, modal, grpc, webhookUrl: "" };
  worlds.set(mode, world); // stopped after the file, even if its App fails to start
  await startMode(mode, world);
  return world;
}

async function stopWorld(world: ModeWorld): Promise<void> {
  const { child } = world;
  if (child && child.process.exitCode === null) {
    // The whole process group: npm's App too, should npm be killed before it.
    process.kill(-child.process.pid!, "SIGKILL");
    await child.exited;
  }
  if (world.cwd) rmSync(world.cwd, { recursive: true, force: true });
  await world.grpc.close();
  world.modal.close();
  await world.github.close();
}

async function startMode(mode: Mode, world: ModeWorld): Promise<void> {
  const { github, grpc } = world;
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...appEnv(github, port, { MODAL_SERVER_URL: grpc.url, MODAL_TOKEN_ID: grpc.tokenId, MODAL_TOKEN_SECRET: grpc.tokenSecret }),
    PATH: process.env.PATH!,
    NO_SMEE_SETUP: "true" as const,
    RUNNER_DOCKERFILE: path.resolve("docker/runner/Dockerfile"),
  };
  let output = "";
  const cwd = (world.cwd = mkdtempSync(path.join(os.tmpdir(), "probot-mode-")));
  if (mode === "npm start") {
    copyFileSync("package.json", path.join(cwd, "package.json"));
    for (const linked of ["dist", "node_modules"]) symlinkSync(path.resolve(linked), path.join(cwd, linked));
  }
  const [command, ...args] = MODES[mode];
  // A process group of its own (detached), so that cleaning up kills npm's App with npm.
  const process_: ChildProcess = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  process_.stdout!.on("data", (chunk) => (output += String(chunk)));
  process_.stderr!.on("data", (chunk) => (output += String(chunk)));
  const exited = new Promise<number | null>((resolve) => process_.on("exit", (code) => resolve(code)));
  world.child = { process: process_, output: () => output, exited };
  const url = `http://127.0.0.1:${port}`;
  await eventually(
    async () => {
      if (process_.exitCode !== null) throw new Error(`${mode} exited: ${output}`);
      return (await fetch(`${url}/ping`).catch(() => undefined))?.status === 200;
    },
    `${mode} answers /ping`,
    45_000,
  );
  world.webhookUrl = `${url}/api/github/webhooks`;
  github.webhookUrl = world.webhookUrl;
}

beforeAll(async () => {
  // All settled before failing, so that afterAll stops every world that started.
  const results = await Promise.allSettled((Object.keys(MODES) as Mode[]).map(startWorld));
  const failed = results.find((result) => result.status === "rejected");
  if (failed) throw failed.reason;
}, TIMEOUT_MS);

afterAll(async () => {
  await Promise.all([...worlds.values()].map(stopWorld));
});

/** A POST that announces `length` bytes and sends none: the answer must come before the body. */
function announce(url: string, headers: Record<string, string>, length: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = http.request(url, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json", "content-length": String(length) },
    });
    req.on("response", (res) => {
      res.resume();
      resolve(res.statusCode);
      req.destroy();
    });
    req.on("error", () => resolve(undefined));
    req.flushHeaders();
  });
}

describe.each(Object.keys(MODES) as Mode[])("%s", (mode) => {
  let github: FakeGitHub;
  let modal: FakeModal;
  let child: Child;
  let webhookUrl: string;
  beforeAll(() => {
    ({ github, modal, child, webhookUrl } = worlds.get(mode) as ModeWorld & { child: Child });
  });

  test(
    "serves a queued job end to end: one runner registration, one sandbox",
    async () => {
      const job = github.queueJob({ owner: "octo-org", repo: "app", labels: ["self-hosted", "modal"] });
      const delivery = await github.deliverWorkflowJob("queued", job);
      expect(delivery.status).toBeLessThan(300);
      await eventually(() => modal.running().length === 1, "a sandbox runs", 30_000);
      expect(github.requests.filter((request) => request.route.endsWith("/generate-jitconfig") && request.status === 201)).toHaveLength(1);
      expect(modal.running()[0]!.name).toContain(String(job.id));
    },
    TIMEOUT_MS,
  );

  if (GUARDED.includes(mode))
    test(
      "the App's guard stands in front of Probot: a body announced over 25 MB is answered 413 before it is sent; a bad signature is refused and its payload never logged",
      async () => {
        const headers = {
          "x-github-event": "workflow_job",
          "x-github-delivery": "too-large",
          "x-hub-signature-256": "sha256=" + "0".repeat(64),
        };
        expect(await announce(webhookUrl, headers, 26 * 1024 * 1024)).toBe(413);

        const refused = await github.deliverRaw("workflow_job", JSON.stringify({ action: "queued", marker: MARKER }), {
          signature: "wrong",
        });
        expect(refused.status).toBe(400);
        await new Promise((resolve) => setTimeout(resolve, 200)); // let the log lines out
        expect(child.output()).not.toContain(MARKER);
      },
      TIMEOUT_MS,
    );

  if (mode === "npm start")
    test(
      "SIGTERM to npm start drains the App, which exits 0 and frees its port",
      async () => {
        child.process.kill("SIGTERM"); // npm only, not its process group
        expect(await child.exited).toBe(0);
        expect(
          await fetch(`${webhookUrl}`).then(
            () => "answered",
            () => "refused",
          ),
        ).toBe("refused");
      },
      TIMEOUT_MS,
    );
});
