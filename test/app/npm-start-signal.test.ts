// `npm start` as an operator's process manager stops it: SIGTERM to npm. npm forwards the
// signal to the script's shell; a shell that ran the App as its child would die and leave
// the App running, holding the port. The start script execs node, so the App gets the
// signal and drains. (Runs in a directory of its own, so no developer's .env is read: the
// App then serves its setup page, and stops the same way.)
import { spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { eventually } from "../support/app-harness.js";
import { freePort } from "../support/free-port.js";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), "npm-start-"));
  copyFileSync("package.json", path.join(dir, "package.json"));
  for (const linked of ["dist", "node_modules"]) symlinkSync(path.resolve(linked), path.join(dir, linked));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("SIGTERM to npm start stops the App and frees its port", async () => {
  const port = await freePort();
  const answers = () =>
    fetch(`http://127.0.0.1:${port}/`).then(
      () => true,
      () => false,
    );
  // --ignore-scripts skips prestart's build (dist/ is built by pretest); start itself runs.
  const npm = spawn("npm", ["start", "--ignore-scripts"], {
    cwd: dir,
    env: { PATH: process.env.PATH!, PORT: String(port), NODE_ENV: "development" },
    stdio: "ignore",
  });
  const exited = new Promise<number | null>((resolve) => npm.on("exit", (code) => resolve(code)));
  try {
    await eventually(answers, "npm start answers", 20_000);
    npm.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(await answers()).toBe(false);
  } finally {
    npm.kill("SIGKILL");
  }
});
