// The built App (dist/main.js) as `npm start` runs it: a child process with only the
// given environment (and PATH), its output collected.
import { spawn, type ChildProcess } from "node:child_process";

export interface RunningMain {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

export function runMain(env: Record<string, string>): RunningMain {
  let output = "";
  const child = spawn(process.execPath, ["dist/main.js"], { env: { PATH: process.env.PATH!, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout!.on("data", (chunk) => (output += String(chunk)));
  child.stderr!.on("data", (chunk) => (output += String(chunk)));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, output: () => output, exited };
}
