// `npm run demo`: the App at work with nothing to sign up for. It starts the
// simulated GitHub and Modal, the real App against them, and a scripted workload,
// prints where the status page is and one line per scripted event, and runs until
// Ctrl-C (or --duration). The App's own JSON log (warn and above) goes to a file, so
// the console stays readable.
import { createWriteStream } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { flagsOrExit } from "../../../dist/cli/parse-flags.js";
import { DURATION_FORMS, parseDuration } from "../../../dist/lib/duration.js";
import { runWorkload } from "./run-workload.js";
import { startDemo } from "./start-demo.js";

const flags = flagsOrExit(process.argv.slice(2), {
  command: "npm run demo --",
  flags: {
    port: {
      type: "string",
      value: "<port>",
      description: "port of the App and its status page (default PORT or 3000; a free one if taken)",
    },
    duration: { type: "string", value: "<time>", description: `stop after this long (${DURATION_FORMS}); default: until Ctrl-C` },
    log: {
      type: "string",
      value: "<file>",
      description: "where the App's JSON log lines (warn and above) go (default: a file in the temp directory)",
    },
  },
});

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

const port = Number(flags.port ?? process.env.PORT ?? 3000);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port: ${flags.port ?? process.env.PORT} is not a port number`);
const durationMs = flags.duration === undefined ? undefined : parseDuration(flags.duration);
if (flags.duration !== undefined && durationMs === undefined) fail(`--duration: "${flags.duration}" is not ${DURATION_FORMS}`);

const logFile = flags.log ?? path.join(tmpdir(), `modal-runner-demo-${process.pid}.log`);
const log = createWriteStream(logFile, { flags: "a" });
const demo = await startDemo({ port, logDestination: log });
const stopped = new AbortController();
const say = (line: string) => console.log(`${new Date().toISOString().slice(11, 19)}  ${line}`);

console.log(`Status page: ${demo.url}/ (user: any, password: ${demo.statusToken})`);
console.log(`  or, with the password in the URL: http://demo:${demo.statusToken}@${demo.url.slice("http://".length)}/`);
console.log(`Simulated GitHub: ${demo.github.baseUrl}; the App's log (warn and above): ${logFile}`);
console.log(durationMs === undefined ? "Ctrl-C stops the demo." : `The demo stops after ${flags.duration}.`);

let stopping = false;
async function stop(reason: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  say(`stopping (${reason})`);
  stopped.abort();
  await demo.stop();
  await new Promise<void>((resolve) => log.end(() => resolve()));
  say("stopped");
  process.exit(0);
}
process.once("SIGINT", () => void stop("Ctrl-C"));
process.once("SIGTERM", () => void stop("SIGTERM"));
if (durationMs !== undefined) setTimeout(() => void stop(`after ${flags.duration}`), durationMs);

await runWorkload(demo, { say, signal: stopped.signal });
