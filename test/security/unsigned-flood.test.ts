// Unsigned floods cost the App bounded memory (issue 14): 64 concurrent 25 MB posts
// that no one signed, streamed chunked (no length announced, so nothing can be refused
// before reading), leave the App process's peak RSS under 250 MiB. Each event's body is
// capped at its own size (a workflow_job at 1 MiB), the unverified bytes held at once
// are capped (excess answered 503 with retry-after), and events the App does not
// subscribe to are acknowledged unread. The App runs as `npm start` runs it, in a
// child process, so its peak RSS (VmHWM) is its own.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { FakeGitHub } from "@modal-github-runner/simulator/fake-github";
import { FakeModal } from "@modal-github-runner/simulator/fake-modal";
import { startModalGrpcServer, type ModalGrpcServer } from "@modal-github-runner/simulator/modal-grpc-server";
import { appEnv, eventually } from "../support/app-harness.js";
import { freePort } from "../support/free-port.js";

const MiB = 1024 * 1024;
let github: FakeGitHub;
let modal: FakeModal;
let grpc: ModalGrpcServer;
let child: ChildProcess | undefined;

beforeEach(async () => {
  github = await FakeGitHub.start();
  modal = new FakeModal();
  grpc = await startModalGrpcServer(modal);
});

afterEach(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child!.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }
  await grpc.close();
  modal.close();
  await github.close();
});

/** Streams up to `totalBytes` in 1 MiB chunks until the App answers; resolves with its status. */
function flood(url: string, event: string, totalBytes: number): Promise<{ status: number | undefined; retryAfter?: string }> {
  const chunk = Buffer.alloc(MiB, "x");
  return new Promise((resolve) => {
    let sent = 0;
    let answered = false;
    const req = http.request(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "transfer-encoding": "chunked",
        "x-github-event": event,
        "x-github-delivery": `flood-${Math.random()}`,
        "x-hub-signature-256": "sha256=" + "0".repeat(64),
      },
    });
    req.on("response", (res) => {
      answered = true;
      res.resume();
      resolve({ status: res.statusCode, retryAfter: res.headers["retry-after"] });
      req.destroy();
    });
    req.on("error", () => {
      if (!answered) resolve({ status: undefined });
    });
    const pump = () => {
      while (!answered && sent < totalBytes) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once("drain", pump);
      }
      if (!answered) req.end();
    };
    pump();
  });
}

test("64 concurrent 25 MB unsigned posts leave the App's peak RSS under 250 MiB", async () => {
  const port = await freePort();
  child = spawn(process.execPath, ["--max-semi-space-size=2", "--max-old-space-size=128", path.resolve("dist/main.js")], {
    cwd: mkdtempSync(path.join(os.tmpdir(), "flood-")),
    env: {
      ...appEnv(github, port, {
        MODAL_SERVER_URL: grpc.url,
        MODAL_TOKEN_ID: grpc.tokenId,
        MODAL_TOKEN_SECRET: grpc.tokenSecret,
        LOG_LEVEL: "warn",
      }),
      PATH: process.env.PATH!,
      RUNNER_DOCKERFILE: path.resolve("docker/runner/Dockerfile"),
    },
    stdio: ["ignore", "ignore", "ignore"],
  });
  const url = `http://127.0.0.1:${port}`;
  await eventually(async () => (await fetch(`${url}/ping`).catch(() => undefined))?.status === 200, "the App answers", 30_000);

  // 56 posts of an event the App reads (workflow_job), 8 of one it does not subscribe to (push).
  const results = await Promise.all(
    Array.from({ length: 64 }, (_, i) => flood(`${url}/api/github/webhooks`, i % 8 === 7 ? "push" : "workflow_job", 25 * MiB)),
  );
  const peakRssMiB = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))![1]) / 1024;

  if (process.env.PRINT_FIGURES) console.log(`peak RSS ${peakRssMiB.toFixed(0)} MiB`, results.map((r) => r.status).join(","));
  const statuses = results.map((result) => result.status);
  expect(statuses.filter((status) => status === 202)).toHaveLength(8); // push: acknowledged unread
  // Each workflow_job is refused: 413 past its 1 MiB cap, or 503 (retry-after) when the unverified bytes in flight are full.
  expect(statuses.filter((status) => status === 413 || status === 503)).toHaveLength(56);
  expect(results.filter((result) => result.status === 503).every((result) => Number(result.retryAfter) > 0)).toBe(true);
  expect(peakRssMiB).toBeLessThan(250);
}, 90_000);
