// The runner's entrypoint, run for real by bash against a stub run.sh: the JIT config
// reaches the runner only through its environment, never any process's command line.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { JIT_CONFIG_ENV, runnerCommand } from "../../src/modal/runner-command.js";

const JIT = "eyJqaXQiOiJ0aGlzLWlzLXRoZS1zZWNyZXQtdmFsdWUifQ==";

/** A runner home whose run.sh records its argv, its own command line, every process's command line and its environment. */
function runnerHome(): string {
  const home = mkdtempSync(path.join(os.tmpdir(), "runner-home-"));
  const stub = [
    "#!/bin/bash",
    'printf "%s\\n" "$@" > argv.txt',
    // Read with bash's own `read`: no process per file (one `tr` per process took a second or
    // two on a busy machine), and /proc/$$ is run.sh's own command line, not a child's.
    "cmdline() { local arg; while IFS= read -r -d '' arg; do printf '%s ' \"$arg\"; done < \"$1\"; }",
    "cmdline /proc/$$/cmdline > self-cmdline.txt",
    'for f in /proc/[0-9]*/cmdline; do cmdline "$f" 2>/dev/null; echo; done > all-cmdlines.txt',
    "env > env.txt",
  ].join("\n");
  writeFileSync(path.join(home, "run.sh"), stub);
  chmodSync(path.join(home, "run.sh"), 0o755);
  return home;
}

/**
 * Runs the command as a sandbox does, with nothing on stdin. Node's default stdin is a
 * socket, and `bash -c` with a socket on stdin believes rshd/sshd started it and reads
 * ~/.bashrc (Debian's bash is built that way): here, a second of pyenv set-up per start,
 * and a PATH the test did not give.
 */
function run(file: string, args: string[], home: string, env: Record<string, string | undefined>) {
  return spawnSync(file, args, { cwd: home, env, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
}

function start(command: string[], home: string) {
  const [file, ...args] = command;
  return run(file!, args, home, { PATH: process.env.PATH, RUNNER_HOME: home, [JIT_CONFIG_ENV]: JIT });
}

test("run.sh gets the JIT config in its environment and on no command line", () => {
  const home = runnerHome();
  const result = start(runnerCommand({ sudo: true }), home);
  expect(result.status).toBe(0);
  const read = (name: string) => readFileSync(path.join(home, name), "utf8");
  expect(read("argv.txt").trim()).toBe("");
  expect(read("self-cmdline.txt")).not.toContain(JIT);
  expect(read("self-cmdline.txt")).toContain("run.sh"); // run.sh's own, as the runner's process shows it
  expect(read("all-cmdlines.txt")).not.toContain(JIT);
  expect(read("all-cmdlines.txt")).toContain("run.sh"); // the scan saw the runner itself
  expect(read("env.txt")).toContain(`${JIT_CONFIG_ENV}=${JIT}`);
  // The sandbox's command, as Modal shows it, carries no secret either.
  expect(runnerCommand({ sudo: true }).join(" ")).not.toContain(JIT);
});

test("without the JIT config the entrypoint stops before starting the runner", () => {
  const home = runnerHome();
  const [file, ...args] = runnerCommand({ sudo: true });
  const result = run(file!, args, home, { PATH: process.env.PATH, RUNNER_HOME: home });
  expect(result.status).not.toBe(0);
  expect(result.stderr).toContain("JIT config is missing");
});

test("sudo: false refuses to run jobs as root when the image has no runner user", () => {
  // This test machine has no `runner` user; as root, the only way to honour `sudo: false` is not to start.
  const home = runnerHome();
  const result = start(runnerCommand({ sudo: false }), home);
  if (process.getuid?.() === 0) {
    expect(result.status).toBe(78);
    expect(result.stderr).toContain("sudo: false");
    expect(() => readFileSync(path.join(home, "argv.txt"))).toThrow();
  } else {
    // Not root and no passwordless sudo here: the runner starts, still without sudo.
    expect(result.status).toBe(0);
  }
});
