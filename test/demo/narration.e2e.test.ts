// The demo tells a story in its console, and the status page must tell the same one.
// One round of the scripted workload runs against the real App (simulated GitHub and
// Modal); then every job the narration speaks of is on the page once, with the end
// the narration gives it (finished with queue time, run time, cost and a link to the
// job on GitHub; cancelled; refused, or stopped when a runner took it anyway), "made
// for job X" where the narration says a runner made for another job took it, and the
// wait where it says the job waited. The story plays ten times faster than in
// `npm run demo` (timeScale 0.1): the same steps in the same order, every duration
// the demo sets (grace periods, backoffs, runner and job times, pauses) scaled alike.
import { runWorkload, type NarratedJob } from "@modal-github-runner/demo/run-workload";
import { startDemo, type Demo } from "@modal-github-runner/demo/start-demo";
import type { JobStory, StatusSnapshot } from "../../src/telemetry/status-snapshot.js";
import { eventually } from "../support/app-harness.js";
import { LogCapture } from "../support/log-capture.js";

const TIME_SCALE = 0.1;
let demo: Demo;
beforeAll(async () => {
  demo = await startDemo({ port: 0, logDestination: new LogCapture(), logLevel: "warn", timeScale: TIME_SCALE });
});
afterAll(() => demo?.stop());

const get = async (path: string) => {
  const response = await fetch(`${demo.url}${path}`, { headers: { authorization: `Bearer ${demo.statusToken}` } });
  expect(response.status).toBe(200);
  return response;
};

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
  await runWorkload(demo, {
    say: (line) => lines.push(line),
    tell: (fact) => facts.push(fact),
    signal: new AbortController().signal,
    rounds: 1,
  });
  expect(facts.length).toBeGreaterThanOrEqual(40);
  // Every job id the console names is one the narration tells about.
  const named = lines.flatMap((line) => [...line.matchAll(/job (\d+)/g)].map((m) => Number(m[1])));
  expect(named.filter((id) => !facts.some((fact) => fact.jobId === id))).toEqual([]);

  let snapshot: StatusSnapshot | undefined;
  const byId = () => new Map(snapshot!.jobStories.map((story) => [story.jobId, story]));
  await eventually(
    async () => {
      snapshot = (await (await get("/status.json")).json()) as StatusSnapshot;
      const stories = byId();
      return facts.every((fact) => ended(stories.get(fact.jobId), fact));
    },
    "every narrated job's story has reached its end",
    // The story's own bound, but never under 30 s: on a loaded machine (the whole suite
    // on 2 cores) the CPU, not the story's clock, decides how long the last ends take.
    Math.max(90_000 * TIME_SCALE, 30_000),
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
