// `npm run demo`: the story it tells, and the command itself.
//
// The demo tells a story in its console, and the status page must tell the same one.
// One round of the scripted workload runs against the real App (simulated GitHub and
// Modal); then every job the narration speaks of is on the page once, with the end
// the narration gives it (finished with queue time, run time, cost and a link to the
// job on GitHub; cancelled; refused, or stopped when a runner took it anyway), "made
// for job X" where the narration says a runner made for another job took it, and the
// wait where it says the job waited. The story plays ten times faster than in
// `npm run demo` (timeScale 0.1): the same steps in the same order, every duration
// the demo sets (grace periods, backoffs, runner and job times, pauses) scaled alike.
// And the world's time (the App's, GitHub's, Modal's, the runners' and the script's
// pauses: one ManualClock) moves only by the test's steps, each step once the App and
// GitHub's deliveries have settled, instead of being waited for.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { runWorkload, type NarratedJob } from "@modal-github-runner/demo/run-workload";
import { startDemo, type Demo } from "@modal-github-runner/demo/start-demo";
import type { JobStory, StatusSnapshot } from "../../src/telemetry/status-snapshot.js";
import { LogCapture } from "../support/log-capture.js";
import { ManualClock } from "../support/manual-clock.js";

// `npm run demo -- --duration 3s` as a user runs it (the built CLI, a child process,
// packages/demo/dist: `npm test` builds it first): it prints where the status page is,
// the page answers with the printed password (and only with it), and the demo ends on its
// own with exit code 0. Its three seconds are mostly waiting: it is started before the
// first test and runs alongside the narration's; its test (last) reads what it saw.
const DEMO = path.join(process.cwd(), "packages", "demo", "dist", "main.js");

interface CliRun {
  stdout: string;
  stderr: string;
  code: number | null;
  /** The page's answers with the printed password and without one; undefined if the status line never came. */
  answers?: { withPassword: number; without: number };
}

function runDemoCli(): Promise<CliRun> {
  const logFile = path.join(tmpdir(), `demo-cli-test-${process.pid}.log`);
  const child = spawn(process.execPath, [DEMO, "--duration", "3s", "--port", "0", "--log", logFile], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, MODAL_CONFIG_PATH: "/nonexistent/modal.toml" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const run: CliRun = { stdout: "", stderr: "", code: null };
  child.stderr.on("data", (chunk: Buffer) => (run.stderr += String(chunk)));
  let asked: Promise<void> | undefined;
  child.stdout.on("data", (chunk: Buffer) => {
    run.stdout += String(chunk);
    const match = /Status page: (http:\/\/127\.0\.0\.1:\d+)\/ \(user: any, password: (\S+)\)/.exec(run.stdout);
    if (match && !asked) {
      const [, url, password] = match;
      const basic = `Basic ${Buffer.from(`any:${password}`).toString("base64")}`;
      asked = (async () => {
        const withPassword = (await fetch(`${url}/`, { headers: { authorization: basic } })).status;
        const without = (await fetch(`${url}/`)).status;
        run.answers = { withPassword, without };
      })();
    }
  });
  return new Promise((resolve) =>
    child.once("exit", (code) => {
      run.code = code;
      void (asked ?? Promise.resolve()).catch(() => undefined).then(() => resolve(run));
    }),
  );
}

let cliRun: Promise<CliRun>;
beforeAll(() => {
  expect(existsSync(DEMO)).toBe(true);
  cliRun = runDemoCli();
});
afterAll(() => cliRun);

const TIME_SCALE = 0.1;
/** One step of the world's time: a tenth of a second of the demo's (a runner polls every 25 ms of it). */
const STEP_MS = 1_000 * TIME_SCALE;
/**
 * The world's time moves only by the test's steps, never by the wall clock: however slow the
 * machine, a job's run time cannot pass while the App is still handling the step before.
 */
const clock = new ManualClock(Date.now());
let demo: Demo;
beforeAll(async () => {
  demo = await startDemo({ port: 0, logDestination: new LogCapture(), logLevel: "warn", timeScale: TIME_SCALE, clock });
});
afterAll(() => demo?.stop());

const get = async (path: string) => {
  const response = await fetch(`${demo.url}${path}`, { headers: { authorization: `Bearer ${demo.statusToken}` } });
  expect(response.status).toBe(200);
  return response;
};

/**
 * Lets the work a step started finish: webhooks delivered and answered, the App idle. A
 * round gives up after 200 ms of the wall clock: work that waits on real time (a Modal
 * retry's backoff) or on the App's own timers (which fire only when the clock moves) goes
 * on at the next step. So while the App is busy the world's time moves at most half as
 * fast as the wall clock (the story used to move at the wall clock's pace); while it is
 * idle, as fast as the steps go.
 */
async function settle(): Promise<void> {
  for (let round = 0; round < 2; round++) {
    const quiet = (async () => {
      await demo.github.settle();
      await demo.server.runtime.idle();
    })();
    await Promise.race([quiet, new Promise((resolve) => setTimeout(resolve, 200))]);
  }
}

/**
 * Skips the world's time ahead, a step at a time, until `done` holds; fails after
 * `limitMs` of the demo's (scaled) time, or 60 s of the wall clock on a loaded machine.
 */
async function skipUntil(done: () => boolean | Promise<boolean>, description: string, limitMs: number): Promise<void> {
  const wallDeadline = Date.now() + 60_000;
  for (let skipped = 0; !(await done()); skipped += STEP_MS) {
    if (skipped > limitMs || Date.now() > wallDeadline) throw new Error(`${description}: not after ${skipped} ms of the demo's time`);
    await clock.advance(STEP_MS);
    await settle();
  }
}

/** Whether the story has reached the end the narration gives it. */
function ended(story: JobStory | undefined, fact: NarratedJob): boolean {
  if (!story) return false;
  if (fact.ends === "finished") return (story.outcome === "success" || story.outcome === "failure") && story.dollars !== undefined;
  // A refused job that a runner of ours took anyway is stopped by the App: refused, then stopped.
  if (fact.ends === "refused") return story.outcome === "refused" || (story.outcome === "stopped" && story.stoppedBy !== undefined);
  return story.outcome === fact.ends;
}

test("every job the demo narrates is on the status page with the story the narration tells", async () => {
  const facts: NarratedJob[] = [];
  const lines: string[] = [];
  let scriptDone = false;
  const script = runWorkload(demo, {
    say: (line) => lines.push(line),
    tell: (fact) => facts.push(fact),
    signal: new AbortController().signal,
    rounds: 1,
  }).finally(() => (scriptDone = true));
  await skipUntil(() => scriptDone, "the script ran to its end", 120_000 * TIME_SCALE);
  await script;
  expect(facts.length).toBeGreaterThanOrEqual(40);
  // Every job id the console names is one the narration tells about.
  const named = lines.flatMap((line) => [...line.matchAll(/job (\d+)/g)].map((m) => Number(m[1])));
  expect(named.filter((id) => !facts.some((fact) => fact.jobId === id))).toEqual([]);

  let snapshot: StatusSnapshot | undefined;
  const byId = () => new Map(snapshot!.jobStories.map((story) => [story.jobId, story]));
  await skipUntil(
    async () => {
      snapshot = (await (await get("/status.json")).json()) as StatusSnapshot;
      const stories = byId();
      return facts.every((fact) => ended(stories.get(fact.jobId), fact));
    },
    "every narrated job's story has reached its end",
    90_000 * TIME_SCALE,
  ).catch((error: unknown) => {
    const stories = byId();
    const unfinished = facts
      .filter((fact) => !ended(stories.get(fact.jobId), fact))
      .map((fact) => ({ fact, story: stories.get(fact.jobId) }));
    throw new Error(`${String(error)}: ${JSON.stringify(unfinished, null, 1)}`);
  });

  const stories = byId();
  const ids = snapshot!.jobStories.map((story) => story.jobId);
  expect(ids.length).toBe(new Set(ids).size); // each job once
  const html = await (await get("/status")).text();
  for (const fact of facts) {
    const story = stories.get(fact.jobId)!;
    expect(story.repo).toBe(fact.repo);
    expect(html).toContain(`data-job="${fact.jobId}"`);
    if (fact.ends === "finished") {
      expect(story).toMatchObject({ queueSeconds: expect.any(Number), runSeconds: expect.any(Number), dollars: expect.any(Number) });
      expect(story.htmlUrl).toMatch(new RegExp(`/${fact.repo}/actions/runs/${story.runId}/job/${fact.jobId}$`));
      expect(html).toContain(`href="${story.htmlUrl}"`);
    }
    if (fact.ranOnAnotherJobsRunner) {
      expect(story.runnerMadeFor).toEqual(expect.any(Number));
      expect(story.runnerMadeFor).not.toBe(fact.jobId);
      expect(html).toContain(`made for job ${story.runnerMadeFor}`);
    }
    if (fact.waited) expect(story.waitedFor).toEqual(expect.any(String));
  }
  // Health and waits in plain words: no circuit-breaker vocabulary anywhere on the page.
  expect(html).not.toMatch(/circuit|breaker/i);
}, 240_000);

test("the demo prints the status page's address, serves it behind the printed password, and exits 0 after --duration", async () => {
  const run = await cliRun; // started in beforeAll
  if (!run.answers) throw new Error(`the demo did not print the status page, or it did not answer: ${run.stdout}${run.stderr}`);
  expect(run.answers).toEqual({ withPassword: 200, without: 401 });
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/round 1/);
  expect(run.stdout).toMatch(/stopped/);
  expect(run.stderr).toBe("");
}, 60_000);
