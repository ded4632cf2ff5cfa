// Policy files are read ahead of the jobs that need them: a full sweep reads each
// org's own file beside the listing of its repositories (so the org's first job waits
// for its repository's file only), and a file used in the last quarter of its minute
// is read again in the background (so a busy org's jobs never wait for the re-read),
// while what a job is served is never older than the minute.
import { settled, startWorld, type RunningApp, type World } from "../support/app-harness.js";
import { FastForwardClock } from "../support/fast-forward-clock.js";
import { outcomes } from "../support/outcomes.js";

let world: World;
let app: RunningApp;

const CONTENTS = "/repos/{owner}/{repo}/contents/{path}";
const ORG_FILE = "/repos/octo-org/.github/contents/.github/modal-runner.yml";
const fileReads = (from = 0) =>
  world.github.requests
    .slice(from)
    .filter((request) => request.route === CONTENTS)
    .map((request) => request.path);

beforeEach(async () => {
  world = await startWorld();
  const installation = world.github.addInstallation({ account: "octo-org", accountType: "Organization" });
  for (const name of [".github", "app", "web"]) world.github.addRepository({ installationId: installation.id, owner: "octo-org", name });
});

afterEach(async () => {
  world.github.assertNoViolations();
  await world.close();
});

const orgPolicy = (yaml: string) => world.github.addFile("octo-org", ".github", ".github/modal-runner.yml", yaml);

async function deliver(repo: string) {
  const job = world.github.queueJob({ owner: "octo-org", repo, labels: ["self-hosted", "modal"] });
  await world.github.deliverWorkflowJob("queued", job);
  await settled(world);
  return job;
}

const started = (jobId: number) => world.modal.sandboxes().some((sandbox) => sandbox.tags.job_id === String(jobId));
const refused = () => outcomes(app, { kind: "refused" }).map((outcome) => outcome.jobId);

test("a full sweep reads each org's own file: the org's first job then reads only its repository's", async () => {
  orgPolicy("repositories: [app]\n");
  app = await world.startApp();
  const summary = await app.parts.reconciler.run({ full: true, reason: "test" });
  expect(summary.ok).toBe(true);
  expect(fileReads()).toEqual([ORG_FILE]);

  const from = world.github.requests.length;
  const allowed = await deliver("app");
  const other = await deliver("web");
  // The prefetched file is in force: web is refused without the org's file being read again.
  expect(started(allowed.id)).toBe(true);
  expect(started(other.id)).toBe(false);
  expect(refused()).toEqual([other.id]);
  expect(fileReads(from)).toEqual([
    "/repos/octo-org/app/contents/.github/modal-runner.yml",
    "/repos/octo-org/web/contents/.github/modal-runner.yml",
  ]);
});

test("a file used in the last quarter of its minute is read again in the background; one unused for a minute is read on the job's path", async () => {
  const clock = new FastForwardClock();
  orgPolicy("repositories: [app, web]\n");
  app = await world.startApp({}, { clock });
  expect(started((await deliver("web")).id)).toBe(true);
  const first = fileReads().length;

  // The org narrows its file. At 50 s the cached file is still within its minute: the
  // job is served by it at once, and the file is read again behind the job.
  orgPolicy("repositories: [app]\n");
  await clock.advance(50_000);
  expect(started((await deliver("web")).id)).toBe(true);
  expect(fileReads().slice(first)).toContain(ORG_FILE);
  // The re-read is in force before the minute is over: web's next job is refused.
  const narrowed = await deliver("web");
  expect(started(narrowed.id)).toBe(false);
  expect(refused()).toEqual([narrowed.id]);

  // Unused for more than a minute, a file is not served from the cache at all: the
  // next job waits for the read, and is served by what it finds.
  orgPolicy("repositories: [app, web]\n");
  await clock.advance(61_000);
  expect(started((await deliver("web")).id)).toBe(true);
});
