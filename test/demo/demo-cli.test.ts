// `npm run demo -- --duration 3s` as a user runs it (the built CLI, a child
// process): it prints where the status page is, the page answers with the printed
// password (and only with it), and the demo ends on its own with exit code 0.
// Needs dist/ (`npm test` builds it first).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const DEMO = path.join(process.cwd(), "packages", "demo", "dist", "main.js");

test("the demo prints the status page's address, serves it behind the printed password, and exits 0 after --duration", async () => {
  expect(existsSync(DEMO)).toBe(true);
  const logFile = path.join(tmpdir(), `demo-cli-test-${process.pid}.log`);
  const child = spawn(process.execPath, [DEMO, "--duration", "3s", "--port", "0", "--log", logFile], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, MODAL_CONFIG_PATH: "/nonexistent/modal.toml" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += String(chunk)));
  const statusLine = new Promise<RegExpExecArray>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += String(chunk);
      const match = /Status page: (http:\/\/127\.0\.0\.1:\d+)\/ \(user: any, password: (\S+)\)/.exec(stdout);
      if (match) resolve(match);
    });
    child.once("exit", () => reject(new Error(`the demo exited before printing the status page: ${stdout}${stderr}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));

  const [, url, password] = await statusLine;
  const basic = `Basic ${Buffer.from(`any:${password}`).toString("base64")}`;
  expect((await fetch(`${url}/`, { headers: { authorization: basic } })).status).toBe(200);
  expect((await fetch(`${url}/`)).status).toBe(401);

  expect(await exited).toBe(0);
  expect(stdout).toMatch(/round 1/);
  expect(stdout).toMatch(/stopped/);
  expect(stderr).toBe("");
}, 60_000);
