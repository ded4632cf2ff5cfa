// The sandbox's entrypoint (docker/runner/entrypoint.sh), run for real by bash as the
// App's runner command, with stand-ins for dockerd and run.sh on PATH: Docker starts
// when the profile asks for it (the runner waits for its socket), a Docker that never
// comes fails the job with the reason in its log (a job-started hook), and nothing of
// Docker happens when the profile does not ask. Each case has a sandbox of its own and
// waits on real processes (dockerd's start, the entrypoint's 0.2 s polls, a 1 s bounded
// wait), so the cases run side by side (test.concurrent) rather than one after another.
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { JIT_CONFIG_ENV, JOB_COMPLETED_HOOK, runnerCommand } from "../../src/modal/runner-command.js";

const SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

interface Sandbox {
  dir: string;
  home: string;
  bin: string;
  hooks: string;
  socket: string;
}

function executable(file: string, lines: string[]): void {
  writeFileSync(file, ["#!/bin/bash", ...lines].join("\n") + "\n");
  chmodSync(file, 0o755);
}

/** A runner home whose run.sh records its argv and environment, and a bin/ for stand-ins. */
function sandbox(): Sandbox {
  const dir = mkdtempSync(path.join(os.tmpdir(), "entrypoint-"));
  const box = {
    dir,
    home: path.join(dir, "home"),
    bin: path.join(dir, "bin"),
    hooks: path.join(dir, "hooks"),
    socket: path.join(dir, "docker.sock"),
  };
  for (const made of [box.home, box.bin]) mkdirSync(made);
  executable(path.join(box.home, "run.sh"), ['printf "%s\\n" "$@" > argv.txt', "env > env.txt"]);
  return box;
}

/** A dockerd stand-in: records its arguments, then after `delay` seconds creates the socket -H names (or fails, or hangs). */
function dockerd(box: Sandbox, behaviour: { delay?: number; exitWith?: string; hang?: boolean }): void {
  const lines = ['printf "%s\\n" "$@" > "$(dirname "$0")/../dockerd-argv.txt"'];
  if (behaviour.exitWith !== undefined) lines.push(`echo ${JSON.stringify(behaviour.exitWith)} >&2`, "exit 1");
  else if (behaviour.hang) lines.push("exec sleep 30");
  else
    lines.push(
      'while [ $# -gt 0 ]; do [ "$1" = --host ] && socket="${2#unix://}"; shift; done',
      `sleep ${behaviour.delay ?? 0}`,
      `exec python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$socket"`,
    );
  executable(path.join(box.bin, "dockerd"), lines);
}

/**
 * Runs a command to its end without blocking the other cases; killed after `timeout` ms.
 * Nothing on stdin, as in a sandbox: `bash -c` with a socket there (Node's default)
 * reads ~/.bashrc as if sshd had started it (Debian's bash), a second per start here.
 */
function run(file: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; timeout: number }): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...options, stdio: ["ignore", "ignore", "ignore"] });
    child.on("error", reject);
    child.on("exit", (code) => resolve(code));
  });
}

async function start(box: Sandbox, env: Record<string, string> = {}) {
  const [file, ...args] = runnerCommand({ sudo: true });
  const status = await run(file!, args, {
    cwd: box.home,
    env: {
      PATH: `${box.bin}:${SYSTEM_PATH}`,
      RUNNER_HOME: box.home,
      [JIT_CONFIG_ENV]: "e30=",
      MODAL_RUNNER_HOOK_DIR: box.hooks,
      MODAL_RUNNER_DOCKER_SOCKET: box.socket,
      ...env,
    },
    timeout: 20_000,
  });
  const ran = existsSync(path.join(box.home, "env.txt"));
  const runnerEnv = ran
    ? Object.fromEntries(
        readFileSync(path.join(box.home, "env.txt"), "utf8")
          .split("\n")
          .filter((line) => line.includes("="))
          .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
      )
    : {};
  const argv = ran ? readFileSync(path.join(box.home, "argv.txt"), "utf8").split("\n").filter(Boolean) : [];
  return {
    status,
    ran,
    env: runnerEnv as Record<string, string>,
    argv,
    dockerdArgv: readIf(path.join(box.dir, "dockerd-argv.txt")),
  };
}

function readIf(file: string): string[] | undefined {
  return existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : undefined;
}

/** Runs the job-started hook the entrypoint left for the runner, as the runner would. */
function runJobStartedHook(hook: string) {
  return spawnSync("/bin/bash", [hook], { encoding: "utf8" });
}

test.concurrent(
  "asked for Docker: dockerd starts with the docker group on the socket, the runner waits for it, then starts with DOCKER_HOST",
  async () => {
    const box = sandbox();
    dockerd(box, { delay: 0.4 }); // real processes: the shortest delay that still spans two of the entrypoint's 0.2 s polls
    const started = Date.now();
    const result = await start(box, { MODAL_RUNNER_DOCKER: "vm", MODAL_RUNNER_DOCKERD_WAIT: "10" });
    expect(result.status).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(400); // it waited for the socket
    expect(result.dockerdArgv).toEqual(["--group", "docker", "--host", `unix://${box.socket}`]);
    expect(result.env.DOCKER_HOST).toBe(`unix://${box.socket}`);
    expect(result.env.ACTIONS_RUNNER_HOOK_JOB_STARTED).toBeUndefined();
  },
);

test.concurrent("the profile's extra dockerd flags are passed on", async () => {
  const box = sandbox();
  dockerd(box, {});
  const result = await start(box, { MODAL_RUNNER_DOCKER: "gvisor", MODAL_RUNNER_DOCKERD_ARGS: "--iptables=false --ip6tables=false" });
  expect(result.dockerdArgv).toEqual(["--group", "docker", "--host", `unix://${box.socket}`, "--iptables=false", "--ip6tables=false"]);
  expect(result.env.DOCKER_HOST).toBe(`unix://${box.socket}`);
});

test.concurrent.each([
  ["its socket never appears (bounded wait)", { hang: true }, /did not appear within 1s/],
  [
    "dockerd exits at once",
    { exitWith: "failed to start daemon: Error initializing network controller" },
    /exited before its socket appeared/,
  ],
])("when %s, the runner still starts and the job fails with the reason in its log", async (_case, behaviour, reason) => {
  const box = sandbox();
  dockerd(box, behaviour);
  const result = await start(box, { MODAL_RUNNER_DOCKER: "vm", MODAL_RUNNER_DOCKERD_WAIT: "1" });
  expect(result.status).toBe(0);
  expect(result.ran).toBe(true);
  expect(result.env.DOCKER_HOST).toBeUndefined();
  const hook = runJobStartedHook(result.env.ACTIONS_RUNNER_HOOK_JOB_STARTED!);
  expect(hook.status).toBe(1);
  expect(hook.stdout).toMatch(/^::error title=Docker did not start in this sandbox::/);
  expect(hook.stdout).toMatch(reason);
  if ("exitWith" in behaviour) expect(hook.stdout).toContain(behaviour.exitWith); // dockerd's own words, from its log
});

test.concurrent("an image without dockerd fails the job with the reason, not the sandbox", async () => {
  const box = sandbox();
  const result = await start(box, { MODAL_RUNNER_DOCKER: "vm" });
  expect(result.ran).toBe(true);
  const hook = runJobStartedHook(result.env.ACTIONS_RUNNER_HOOK_JOB_STARTED!);
  expect(hook.status).toBe(1);
  expect(hook.stdout).toMatch(/^::error .*has no dockerd/);
});

test.concurrent("not asked: dockerd is never started, no DOCKER_HOST, no failing hook", async () => {
  const box = sandbox();
  dockerd(box, {});
  const result = await start(box);
  expect(result.status).toBe(0);
  expect(result.dockerdArgv).toBeUndefined();
  expect(existsSync(box.socket)).toBe(false);
  expect(result.env.DOCKER_HOST).toBeUndefined();
  expect(result.env.ACTIONS_RUNNER_HOOK_JOB_STARTED).toBeUndefined();
});

test.concurrent("every runner gets the receipt as its job-completed hook, and the start time it measures from", async () => {
  const box = sandbox();
  const before = Math.floor(Date.now() / 1000);
  const result = await start(box);
  const hook = result.env.ACTIONS_RUNNER_HOOK_JOB_COMPLETED!;
  expect(readFileSync(hook, "utf8")).toBe(readFileSync(JOB_COMPLETED_HOOK, "utf8") + "\n");
  expect(spawnSync("test", ["-x", hook]).status).toBe(0);
  expect(Number(result.env.MODAL_RUNNER_STARTED_AT)).toBeGreaterThanOrEqual(before);
});

test.concurrent.each([
  ["1", ["--disableupdate"]],
  ["", []],
])("MODAL_RUNNER_DISABLE_UPDATE=%j starts run.sh with %j", async (value, argv) => {
  const box = sandbox();
  expect((await start(box, { MODAL_RUNNER_DISABLE_UPDATE: value })).argv).toEqual(argv);
});
